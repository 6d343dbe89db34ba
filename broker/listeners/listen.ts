import type { AddressInfo, Server } from 'node:net';
import { describeListenFailure, listenOn } from '../../contract/listen.js';
import { BrokerError } from '../errors.js';

/** A server that is listening, as the broker tracks it. */
export interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens, or fails with a BrokerError that names the setting and the address. */
export async function listen(server: Server, host: string, port: number, setting: string): Promise<Listening> {
  await listenOn(server, port, host).catch((error: unknown) => {
    const { inUse, message } = describeListenFailure(error, { host, port, name: setting, setting });
    throw new BrokerError(inUse ? 'BROKER_PORT_IN_USE' : 'BROKER_LISTEN_FAILED', message, { cause: error });
  });
  return {
    port: (server.address() as AddressInfo).port,
    // Resolves once every connection has ended too: the broker destroys them after aedes.close().
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
