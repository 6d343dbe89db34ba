import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { BackendMetrics } from '../metrics.js';
import type { ReadingStore } from '../store/reading-store.js';
import { ApiError } from '../errors.js';
import { errorResponses } from './schemas.js';

export interface Readiness {
  mqttConnected: () => boolean;
  /** Why readings cannot arrive (not connected, subscriptions not acknowledged); `undefined` when they can. */
  mqttProblem?: () => string | undefined;
  /** Why ingest cannot commit, while it cannot. */
  storeFailure: () => Error | undefined;
}

const publicRoute = { access: 'public' as const };

/** Probes and metrics: public, cheap, and never waiting on the store's locks. */
export function registerOpsRoutes(app: FastifyInstance, store: ReadingStore, metrics: BackendMetrics, readiness: Readiness): void {
  app.get(
    '/healthz',
    {
      config: publicRoute,
      schema: { tags: ['ops'], summary: 'the process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: publicRoute,
      schema: {
        tags: ['ops'],
        summary: 'connected to the broker and the store is writable; else 503 saying which',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errorResponses(503) },
      },
    },
    async () => {
      const mqttProblem = readiness.mqttProblem
        ? readiness.mqttProblem()
        : readiness.mqttConnected()
          ? undefined
          : 'not connected to the MQTT broker';
      const mqtt = mqttProblem === undefined;
      const health = await store.health();
      const failure = readiness.storeFailure();
      const writable = health.writable && !failure;
      metrics.storeWritable.set(writable ? 1 : 0);
      if (mqtt && writable) return { status: 'ready' as const };
      const detail = health.detail ?? failure?.message;
      const why = [mqttProblem ?? '', writable ? '' : `store not writable${detail ? `: ${detail}` : ''}`];
      throw new ApiError('API_NOT_READY', why.filter(Boolean).join('; '));
    },
  );

  app.get(
    '/metrics',
    { config: publicRoute, schema: { tags: ['ops'], summary: 'Prometheus metrics (text format)' } },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
