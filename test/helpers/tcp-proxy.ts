// A TCP proxy in front of a server, for a network drop a test controls: cut() drops every open
// connection (a browser's streams included) and refuses new ones until restore(). Unlike a
// browser's offline emulation, it breaks connections that are already open.
import { type Server, type Socket, connect, createServer } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every connection now and refuses new ones. */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  /** Connections refused while cut: a client's reconnect attempts. */
  readonly refused: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  let refused = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset peer is what a drop looks like: not an error of the test.
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (down) {
      refused++;
      return void client.destroy();
    }
    const upstream = connect(targetPort, host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get refused() {
      return refused;
    },
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      down = false;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
