import { type Server, type Socket, createServer } from 'node:net';
import { HardwareError } from '../errors.js';
import type { EmulatorTransport } from './transport.js';

export interface TcpTransportOptions {
  /** 0 picks a free port; `port` on the result says which. */
  port: number;
  /** Default 127.0.0.1: a test furnace is not for the whole network. */
  host?: string;
  /** Called if the listening socket fails after it opened (rare: the system ran out of descriptors). */
  onError?: (error: Error) => void;
}

export interface TcpTransport extends EmulatorTransport {
  /** The port it listens on. */
  readonly port: number;
  /** Whether a client is connected now. */
  readonly connected: boolean;
}

/**
 * The emulator behind a TCP port, as a serial-to-Ethernet gateway or `ser2net` in raw mode puts
 * a serial device on the network (spec §20): the bytes of the line, nothing added. Like such a
 * gateway it serves one client at a time; a second connection is closed at once.
 */
export async function openTcpTransport(options: TcpTransportOptions): Promise<TcpTransport> {
  const host = options.host ?? '127.0.0.1';
  let client: Socket | undefined;
  let listener: ((data: Buffer) => void) | undefined;
  const server: Server = createServer((socket) => {
    if (client) {
      socket.destroy();
      return;
    }
    client = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => listener?.(chunk));
    // A reset by the client ends its connection; that is all it means here.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (client === socket) client = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) =>
      reject(
        new HardwareError('HARDWARE_TCP_LISTEN_FAILED', `cannot listen on ${host}:${options.port}: ${error.message}`, { cause: error }),
      );
    server.once('error', failed);
    server.listen(options.port, host, () => {
      server.off('error', failed);
      server.on('error', (error) => options.onError?.(error));
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    devicePath: `tcp://${shownHost}:${port}`,
    port,
    get connected() {
      return client !== undefined;
    },
    write: (data) => {
      if (client?.writable) client.write(data);
    },
    onData: (next) => {
      listener = next;
    },
    close: async () => {
      client?.destroy();
      client = undefined;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
