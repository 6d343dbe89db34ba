import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { BackendConfig } from './config.js';
import { BackendError } from './errors.js';
import { buildApp } from './http/app.js';
import { Ingest } from './ingest.js';
import { BackendMetrics } from './metrics.js';
import type { ReadingStore } from './store/reading-store.js';
import { SqliteReadingStore } from './store/sqlite-store.js';

export interface RunningBackend {
  readonly port: number;
  readonly app: FastifyInstance;
  readonly store: ReadingStore;
  readonly metrics: BackendMetrics;
  readonly ingest: Ingest;
  close(): Promise<void>;
}

/** Starts the backend: the store, MQTT ingest, and the HTTP API; the API does not wait for the broker. */
export async function startBackend(config: BackendConfig, log: Logger): Promise<RunningBackend> {
  const store = new SqliteReadingStore(config.dataDir);
  const metrics = new BackendMetrics();
  const ingest = new Ingest({ ...config.mqtt, store, metrics, log: log.child({ component: 'backend:ingest' }) });
  const app = buildApp({ store, metrics, log: log.child({ component: 'backend:http' }), mqttConnected: () => ingest.connected });
  try {
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    await ingest.stop();
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw code === 'EADDRINUSE'
      ? new BackendError('BACKEND_PORT_IN_USE', `HTTP port ${config.http.port} on ${config.http.host} is already in use`, { cause: error })
      : new BackendError('BACKEND_LISTEN_FAILED', `cannot listen on ${config.http.host}:${config.http.port}: ${(error as Error).message}`, {
          cause: error,
        });
  }
  const { port } = app.server.address() as AddressInfo;
  log.info({ port, dataDir: config.dataDir }, 'HTTP API ready');
  return {
    port,
    app,
    store,
    metrics,
    ingest,
    async close() {
      await app.close();
      await ingest.stop();
      await store.close();
    },
  };
}
