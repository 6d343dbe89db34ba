import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { packageVersion } from '../../contract/package-version.js';

/**
 * The OpenAPI document, built by @fastify/swagger from the routes' own TypeBox schemas, so it
 * cannot drift from what the API checks and answers. Served at /api/v1/openapi.json, browsable at
 * /docs; both public, as they hold no data. Registered before any route, since @fastify/swagger
 * collects routes as they are added.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, access: 'public' };
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Furnace telemetry backend',
        version: packageVersion(),
        description:
          'The synchronous query API. Times are Unix milliseconds in answers and RFC 3339 or Unix milliseconds in requests. ' +
          'Every error answers { statusCode, code, error, message } with a stable code.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API token from the backend config' } } },
      tags: [
        { name: 'devices', description: 'devices, their status and latest readings' },
        { name: 'readings', description: 'readings over time and gaps' },
        { name: 'alerts', description: 'alert history, active alerts, acknowledgements, silences, rules and the live streams' },
        {
          name: 'commands',
          description:
            'commands to a device agent, answered synchronously: the request travels over MQTT and the reply, or a clear refusal, ' +
            'comes back within the timeout; read-now, outbox and ping need the read scope, set-interval, resend and announce the admin scope',
        },
        { name: 'admin', description: 'needs the admin scope' },
        { name: 'ops', description: 'probes and metrics, no token needed' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/api/v1/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, () => app.swagger());
}
