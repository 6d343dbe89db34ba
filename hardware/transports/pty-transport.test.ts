import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { pidsMentioning } from '../../test/helpers/proc.js';
import { describeWithProgram } from '../../test/helpers/require-program.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { openPtyTransport } from './pty-transport.js';
import type { EmulatorTransport } from './transport.js';

describeWithProgram('socat', 'socat', 'the pseudo-terminal transport', () => {
  let dir: string;
  let transport: EmulatorTransport | undefined;
  let reader: SerialPort | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pty-transport-'));
  });
  afterEach(async () => {
    if (reader?.isOpen) await new Promise((resolve) => reader?.close(resolve));
    await transport?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries what the emulator writes to the device the agent opens, and says when socat dies', async () => {
    const lost: string[] = [];
    const link = join(dir, 'furnace');
    transport = await openPtyTransport({ link, onLost: (reason) => lost.push(reason) });
    expect(transport.devicePath).toBe(link);

    const received: string[] = [];
    reader = new SerialPort({ path: link, baudRate: 9600 });
    reader.on('data', (chunk: Buffer) => received.push(chunk.toString()));
    await new Promise((resolve) => reader?.once('open', resolve));
    transport.write('T=812.5\r\n');
    await waitFor(() => received.join('') === 'T=812.5\r\n', { timeoutMs: 5000, what: 'the line on the agent side' });

    const socat = pidsMentioning([`link=${link}`]);
    expect(socat).toHaveLength(1);
    process.kill(socat[0] as number, 'SIGKILL');
    await waitFor(() => lost.length === 1, { timeoutMs: 5000, what: 'onLost after socat was killed' });
    expect(lost[0]).toMatch(/socat exited \(SIGKILL\)/);
  });

  it('carries every byte both ways: what the agent writes reaches the emulator', async () => {
    transport = await openPtyTransport({ link: join(dir, 'furnace') });
    const fromAgent: Buffer[] = [];
    transport.onData((chunk) => fromAgent.push(chunk));
    const toAgent: Buffer[] = [];
    reader = new SerialPort({ path: transport.devicePath, baudRate: 19200 });
    reader.on('data', (chunk: Buffer) => toAgent.push(chunk));
    await new Promise((resolve) => reader?.once('open', resolve));
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    transport.write(everyByte);
    reader.write(everyByte);
    await waitFor(() => Buffer.concat(toAgent).length === 256, { timeoutMs: 5000, what: 'the bytes on the agent side' });
    await waitFor(() => Buffer.concat(fromAgent).length === 256, { timeoutMs: 5000, what: 'the bytes on the emulator side' });
    expect(Buffer.concat(toAgent)).toEqual(everyByte);
    expect(Buffer.concat(fromAgent)).toEqual(everyByte);
  });

  it('stops socat on close, without reporting it as lost', async () => {
    const lost: string[] = [];
    const link = join(dir, 'furnace');
    transport = await openPtyTransport({ link, onLost: (reason) => lost.push(reason) });
    expect(pidsMentioning([`link=${link}`])).toHaveLength(1);
    await transport.close();
    transport = undefined;
    await waitFor(() => pidsMentioning([`link=${link}`]).length === 0, { timeoutMs: 5000, what: 'socat to exit' });
    expect(lost).toEqual([]);
  });
});
