import { once } from 'node:events';
import { type Socket, connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.js';
import { type TcpTransport, openTcpTransport } from './tcp-transport.js';

describe('the TCP transport (spec §20)', () => {
  let transport: TcpTransport | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    sockets.forEach((socket) => socket.destroy());
    sockets.length = 0;
    await transport?.close();
    transport = undefined;
  });

  async function client(port: number): Promise<{ socket: Socket; received: () => string }> {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    await once(socket, 'connect');
    return { socket, received: () => data };
  }

  it('listens on a free port, names it tcp://host:port, and carries raw bytes both ways', async () => {
    transport = await openTcpTransport({ port: 0 });
    expect(transport.devicePath).toBe(`tcp://127.0.0.1:${transport.port}`);
    const fromClient: Buffer[] = [];
    transport.onData((chunk) => fromClient.push(chunk));
    transport.write('dropped: nobody is connected\r\n');
    const { socket, received } = await client(transport.port);
    await waitFor(() => transport?.connected, { timeoutMs: 5000, what: 'the client to be accepted' });
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    transport.write(everyByte);
    transport.write('T=812.5,CJ=24.1\r\n');
    await waitFor(() => received().length === 256 + 17, { timeoutMs: 5000, what: 'the bytes at the client' });
    expect(Buffer.from(received(), 'latin1')).toEqual(Buffer.concat([everyByte, Buffer.from('T=812.5,CJ=24.1\r\n')]));
    socket.write(Buffer.from([0x01, 0x04, 0x00]));
    await waitFor(() => fromClient.length > 0, { timeoutMs: 5000, what: 'the bytes at the emulator' });
    expect(Buffer.concat(fromClient)).toEqual(Buffer.from([0x01, 0x04, 0x00]));
  });

  it('serves one client at a time, as a serial gateway does, and takes the next once it leaves', async () => {
    transport = await openTcpTransport({ port: 0 });
    const first = await client(transport.port);
    await waitFor(() => transport?.connected, { timeoutMs: 5000, what: 'the first client to be accepted' });
    const second = await client(transport.port);
    await once(second.socket, 'close');
    transport.write('for the first\n');
    await waitFor(() => first.received() === 'for the first\n', { timeoutMs: 5000, what: 'the line at the first client' });
    expect(second.received()).toBe('');

    first.socket.destroy();
    await waitFor(() => transport?.connected === false, { timeoutMs: 5000, what: 'the first client to be gone' });
    const third = await client(transport.port);
    await waitFor(() => transport?.connected, { timeoutMs: 5000, what: 'the third client to be accepted' });
    transport.write('for the third\n');
    await waitFor(() => third.received() === 'for the third\n', { timeoutMs: 5000, what: 'the line at the third client' });
  });

  it('closes its client and its port on close()', async () => {
    transport = await openTcpTransport({ port: 0 });
    const { socket } = await client(transport.port);
    await waitFor(() => transport?.connected, { timeoutMs: 5000, what: 'the client to be accepted' });
    const closed = once(socket, 'close');
    const port = transport.port;
    await transport.close();
    transport = undefined;
    await closed;
    const refused = connect(port, '127.0.0.1');
    sockets.push(refused);
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('fails with HARDWARE_TCP_LISTEN_FAILED on a port in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      await expect(openTcpTransport({ port })).rejects.toMatchObject({
        code: 'HARDWARE_TCP_LISTEN_FAILED',
        message: expect.stringContaining(`127.0.0.1:${port}`) as unknown,
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
