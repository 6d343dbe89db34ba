import { type AddressInfo, createServer } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.js';
import { BrokerError } from './errors.js';

export interface RunningBroker {
  /** The TCP port actually bound (useful with port 0). */
  readonly port: number;
  readonly aedes: Aedes;
  close(): Promise<void>;
}

/** Starts the aedes broker and its TCP listener. */
export async function startBroker(config: BrokerConfig, log: Logger): Promise<RunningBroker> {
  const aedes = await Aedes.createBroker({
    // Without a drain timeout one frozen subscriber stalls delivery to everyone.
    drainTimeout: config.limits.drainTimeoutMs,
    connectTimeout: config.limits.connectTimeoutMs,
    maxClientsIdLength: config.limits.maxClientIdLength,
  });
  // Broken clients are routine on a plant network: log them, never let them throw.
  aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error }, 'client error'));
  aedes.on('connectionError', (_client, error) => log.debug({ err: error }, 'connection error'));
  aedes.on('client', (client) => log.debug({ clientId: client.id }, 'client connected'));
  aedes.on('clientDisconnect', (client) => log.debug({ clientId: client.id }, 'client disconnected'));

  const server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      aedes.close();
      reject(
        error.code === 'EADDRINUSE'
          ? new BrokerError('BROKER_PORT_IN_USE', `MQTT port ${config.tcp.port} on ${config.tcp.host} is already in use`, { cause: error })
          : new BrokerError('BROKER_LISTEN_FAILED', `cannot listen on ${config.tcp.host}:${config.tcp.port}: ${error.message}`, {
              cause: error,
            }),
      );
    });
    server.listen(config.tcp.port, config.tcp.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  log.warn('authentication is not configured yet: any client may connect (the broker issue adds it)');
  log.info({ host: config.tcp.host, port }, 'MQTT listener ready');

  return {
    port,
    aedes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // aedes.close ends every client connection, which lets server.close finish.
        aedes.close();
      }),
  };
}
