import type { AddressInfo, Server } from 'node:net';
import { BrokerError } from './errors.js';

/** A server that is listening, as the broker tracks it. */
export interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens, or fails with a BrokerError that names the setting and the address. */
export async function listen(server: Server, host: string, port: number, setting: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new BrokerError('BROKER_PORT_IN_USE', `${setting} ${port} on ${host} is already in use`, { cause: error })
          : new BrokerError('BROKER_LISTEN_FAILED', `cannot listen on ${host}:${port} (${setting}): ${error.message}`, { cause: error }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    // Resolves once every connection has ended too: the broker destroys them after aedes.close().
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
