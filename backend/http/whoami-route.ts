import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from './schemas.js';

export const WhoAmI = Type.Object({
  name: Type.String({ description: 'the token name (open-access when the backend runs with auth.openAccess)' }),
  scopes: Type.Array(Type.Union([Type.Literal('read'), Type.Literal('admin')])),
  openAccess: Type.Boolean({ description: 'true: the API answers without a token' }),
});

/**
 * Who the caller is and what its token may do, so a client (the dashboard) shows only the
 * actions that would succeed: a read-only token sees no acknowledge or silence buttons.
 */
export function registerWhoAmIRoute(app: FastifyInstance, openAccess: boolean): void {
  app.get(
    '/api/v1/auth/whoami',
    {
      config: { access: 'read' },
      schema: {
        tags: ['ops'],
        summary: "the caller's token name and scopes",
        security: [{ bearer: [] }],
        response: { 200: WhoAmI, ...errorResponses(401, 403, 429) },
      },
    },
    (request) => ({ name: request.principal?.name ?? 'unknown', scopes: [...(request.principal?.scopes ?? [])].sort(), openAccess }),
  );
}
