import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { BackendMetrics } from '../metrics.js';
import type { ReadingStore } from '../store/reading-store.js';
import { registerDeviceRoutes } from './device-routes.js';
import { errorBody, installErrorHandlers } from './error-handler.js';

export interface AppDependencies {
  store: ReadingStore;
  metrics: BackendMetrics;
  log: Logger;
  /** Whether ingest is connected to the broker, for /readyz. */
  mqttConnected: () => boolean;
}

/**
 * The synchronous query API, built apart from `listen()` so tests can `inject()` requests
 * without a port.
 */
export function buildApp({ store, metrics, log, mqttConnected }: AppDependencies): FastifyInstance {
  // A query that cannot finish in its budget must fail fast, never hang a dashboard.
  // Per-request lines would drown the log at dashboard rates: the API logs warnings and errors only.
  // pino's Logger is a FastifyBaseLogger; the cast keeps the instance type the one the routes expect.
  const quiet = log.child({}, { level: 'warn' }) as FastifyBaseLogger;
  const app = Fastify({
    loggerInstance: quiet,
    requestTimeout: 10_000,
    // Long enough for any valid id, so an overlong one reaches the schema and gets our 400, not fastify's 414.
    maxParamLength: 256,
    // Errors raised before routing (a malformed URL) answer in the API's shape too.
    frameworkErrors: (error, _request, reply) => {
      // The reply of this hook is typed for a route-less generic that knows no status codes; it is an ordinary reply.
      void (reply as unknown as FastifyReply).status(400).send(errorBody(400, 'API_BAD_REQUEST', error.message));
    },
  });
  installErrorHandlers(app);

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const mqtt = mqttConnected();
    const storeWritable = await store.writable();
    if (mqtt && storeWritable) return { status: 'ready' };
    const why = [mqtt ? '' : 'not connected to the MQTT broker', storeWritable ? '' : 'store not writable'].filter(Boolean);
    return reply.status(503).send(errorBody(503, 'API_NOT_READY', why.join('; ')));
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  registerDeviceRoutes(app, store);
  return app;
}
