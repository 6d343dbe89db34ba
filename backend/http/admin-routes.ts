import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RetentionResult } from '../store/reading-store.js';
import { errorResponses } from './schemas.js';

export interface AdminActions {
  /** Runs retention now (it also runs on its own every store.retentionIntervalMs). */
  runRetention: () => Promise<RetentionResult>;
  ingestState: () => { connected: boolean; uncommittedReadings: number; storeFailure: string | null };
}

const adminRoute = { access: 'admin' as const };
const security = [{ bearer: [] }];

/** Operations on the backend itself: tokens with the admin scope only. */
export function registerAdminRoutes(app: FastifyInstance, actions: AdminActions): void {
  app.get(
    '/api/v1/admin/ingest',
    {
      config: adminRoute,
      schema: {
        tags: ['admin'],
        summary: 'the state of MQTT ingest: connected, readings waiting for their commit, why the store refuses writes',
        security,
        response: {
          200: Type.Object({
            connected: Type.Boolean(),
            uncommittedReadings: Type.Integer(),
            storeFailure: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses(401, 403, 429),
        },
      },
    },
    () => actions.ingestState(),
  );

  app.post(
    '/api/v1/admin/retention',
    {
      config: adminRoute,
      schema: {
        tags: ['admin'],
        summary: 'delete what is past retention now; answers how many rows went',
        security,
        response: {
          200: Type.Object({ rawReadings: Type.Integer(), minuteRollups: Type.Integer(), hourRollups: Type.Integer() }),
          ...errorResponses(401, 403, 429),
        },
      },
    },
    () => actions.runRetention(),
  );
}
