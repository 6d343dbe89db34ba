// The line sensor read through a real link, as the agent reads it: a socat pseudo-terminal with
// serialport, and a TCP port with a plain socket (the real client of a ser2net-style port).
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWithProgram } from '../test/helpers/require-program.js';
import { waitFor } from '../test/helpers/wait-for.js';
import { LineEmulator, type LineEmulatorOptions } from './line-emulator.js';
import { parseScenario } from './scenario.js';
import { openPtyTransport } from './transports/pty-transport.js';
import { openTcpTransport } from './transports/tcp-transport.js';
import type { EmulatorTransport } from './transports/transport.js';

interface Link {
  transport: EmulatorTransport;
  /** Every byte the reader got so far. */
  received(): Buffer;
  forget(): void;
  close(): Promise<void>;
}

async function openPtyLink(dir: string): Promise<Link> {
  const transport = await openPtyTransport({ link: join(dir, 'furnace') });
  const reader = new SerialPort({ path: transport.devicePath, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => reader.open((error) => (error ? reject(error) : resolve())));
  let chunks: Buffer[] = [];
  reader.on('data', (chunk: Buffer) => chunks.push(chunk));
  return {
    transport,
    received: () => Buffer.concat(chunks),
    forget: () => (chunks = []),
    close: async () => {
      if (reader.isOpen) await new Promise((resolve) => reader.close(resolve));
      await transport.close();
    },
  };
}

async function openTcpLink(): Promise<Link> {
  const transport = await openTcpTransport({ port: 0 });
  const socket: Socket = connect(transport.port, '127.0.0.1');
  let chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await waitFor(() => transport.connected, { timeoutMs: 5000, what: 'the emulator to accept the client' });
  return {
    transport,
    received: () => Buffer.concat(chunks),
    forget: () => (chunks = []),
    close: async () => {
      socket.destroy();
      await transport.close();
    },
  };
}

// 15 simulated seconds a line, a line every 2 ms.
const FAST = { intervalMs: 2, speed: 7500 } as const;
const SPEC_VALUE = /^T=(-?\d{1,4}\.\d),CJ=\d{1,3}\.\d$/;

function lineSuite(openLink: (dir: string) => Promise<Link>): void {
  let dir: string;
  let link: Link | undefined;
  let emulator: LineEmulator | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'line-link-'));
  });
  afterEach(async () => {
    emulator?.stop();
    emulator = undefined;
    await link?.close();
    link = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs an emulator on the link until it wrote `count` times; resolves with the bytes it wrote, once all arrived. */
  async function runLive(options: Omit<LineEmulatorOptions, 'write'>, count: number): Promise<Buffer> {
    link ??= await openLink(dir);
    const open = link;
    open.forget();
    const sent: Buffer[] = [];
    const live = new LineEmulator({
      ...options,
      write: (data) => {
        sent.push(data);
        open.transport.write(data);
        if (sent.length === count) live.stop();
      },
    });
    emulator = live;
    live.start();
    await waitFor(() => sent.length === count, { timeoutMs: 15_000, what: `${count} lines written` });
    const expected = Buffer.concat(sent);
    await waitFor(() => open.received().length >= expected.length, { timeoutMs: 5000, what: `${expected.length} bytes received` });
    expect(open.received()).toEqual(expected);
    return open.received();
  }

  /** The bytes an emulator with `options` writes in its first `lines` writes, ticked in memory without any timer. */
  function reference(options: Omit<LineEmulatorOptions, 'write'>, lines: number): Buffer {
    const sent: Buffer[] = [];
    const offline = new LineEmulator({ ...options, write: (data) => sent.push(data) });
    while (offline.lines < lines) offline.tick();
    return Buffer.concat(sent);
  }

  it('ramps to the setpoint and holds it within tolerance', async () => {
    const options = { seed: 4, setpoint: 400, ...FAST };
    const text = (await runLive(options, 240)).toString('latin1'); // one simulated hour
    const lines = text.split('\r\n').slice(0, -1);
    expect(lines.length).toBeGreaterThanOrEqual(240);
    const values = lines.map((line) => Number(SPEC_VALUE.exec(line)?.[1]));
    expect(values[0]).toBeLessThan(30);
    // The last simulated 10 minutes (40 lines) within ±2 °C of 400, and never far past it.
    values.slice(-40).forEach((value) => expect(Math.abs(value - 400)).toBeLessThan(2));
    expect(Math.max(...values)).toBeLessThan(405);
  });

  it('gives the same bytes for the same seed, live or ticked in memory, faults included (spec §19.3)', async () => {
    const options = {
      seed: 9,
      ...FAST,
      checksum: true,
      scenario: parseScenario('tc-open@300+150,stall@600+150,crc-errors@900+150,noise@1200+300,partial@1500+300,baud-mismatch@1800+150'),
    };
    const first = await runLive(options, 120);
    expect(first).toEqual(reference(options, 120));
    expect(await runLive(options, 120)).toEqual(first);

    // Exactly the fault lines of spec §5 while tc-open lasts: lines at 300, 315, ... 435 s.
    const text = first.toString('latin1');
    expect(text.match(/ERR=OPEN,CJ=\d+\.\d\*[0-9A-F]{2}\r\n/g)).toHaveLength(10);
    expect(text).not.toMatch(/ERR=(SHORT_GND|SHORT_VCC)/);
  });
}

describeWithProgram('socat', 'socat', 'the line sensor over a pseudo-terminal, read with serialport', () => lineSuite(openPtyLink));
describe('the line sensor over TCP, read with a socket', () => lineSuite(() => openTcpLink()));
