import { SerialPortStream } from '@serialport/stream';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.js';
import { type InProcessTransport, openInProcessTransport } from './in-process-transport.js';

describe('the in-process transport (spec §20)', () => {
  let transport: InProcessTransport | undefined;
  let port: SerialPortStream | undefined;
  afterEach(async () => {
    if (port?.isOpen) await new Promise((resolve) => port?.close(resolve));
    await transport?.close();
  });

  it('joins the emulator and a serialport stream both ways through the mock binding', async () => {
    transport = openInProcessTransport(`/dev/ttyFURNACE-duplex-${process.pid}`);
    const fromAgent: Buffer[] = [];
    transport.onData((chunk) => fromAgent.push(chunk));
    port = new SerialPortStream({ binding: transport.binding, path: transport.devicePath, baudRate: 19200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port?.open((error) => (error ? reject(error) : resolve())));
    const toAgent: Buffer[] = [];
    port.on('data', (chunk: Buffer) => toAgent.push(chunk));

    transport.write(Buffer.from([0x01, 0x84, 0x06, 0xff]));
    await waitFor(() => Buffer.concat(toAgent).length === 4, { timeoutMs: 2000, what: 'the bytes at the agent' });
    expect(Buffer.concat(toAgent)).toEqual(Buffer.from([0x01, 0x84, 0x06, 0xff]));
    port.write(Buffer.from([0x01, 0x04, 0x00, 0x00]));
    await waitFor(() => Buffer.concat(fromAgent).length === 4, { timeoutMs: 2000, what: 'the bytes at the emulator' });
    expect(Buffer.concat(fromAgent)).toEqual(Buffer.from([0x01, 0x04, 0x00, 0x00]));
  });
});
