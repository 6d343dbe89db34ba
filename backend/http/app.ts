import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { AlertsService } from '../alerts/types.js';
import type { CommandSender } from '../commands/command-client.js';
import type { BackendConfig } from '../config.js';
import { ApiError } from '../errors.js';
import type { BackendMetrics } from '../metrics.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { ReadingStore } from '../store/reading-store.js';
import { type AdminActions, registerAdminRoutes } from './admin-routes.js';
import { registerAlertRoutes } from './alert-routes.js';
import { installAuth } from './auth.js';
import { registerCommandRoutes } from './command-routes.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerDeviceRoutes } from './device-routes.js';
import { errorBody, installErrorHandlers } from './error-handler.js';
import { refuseNonFiniteNumbers } from './finite-numbers.js';
import { registerOpenApi } from './openapi.js';
import { type Readiness, registerOpsRoutes } from './ops-routes.js';
import { registerReadingsRoutes } from './readings-routes.js';
import { registerStreamRoutes } from './stream-routes.js';
import { registerWhoAmIRoute } from './whoami-route.js';
import type { ReadingsSource } from './readings-feed.js';

export interface AppDependencies {
  store: ReadingStore;
  registry: DeviceRegistry;
  metrics: BackendMetrics;
  log: Logger;
  config: Pick<BackendConfig, 'http' | 'query' | 'auth' | 'rateLimit' | 'commands'>;
  readiness: Readiness;
  admin: AdminActions;
  /** The alert engine; without it (tests of other routes) the alert routes are absent. */
  alerts?: AlertsService;
  /** Commands to the agents over MQTT; without it (tests of other routes) the command routes are absent. */
  commands?: CommandSender;
  /** Live readings after each commit, for GET /api/v1/stream. Returns the unsubscribe. */
  readings?: ReadingsSource;
}

/**
 * The synchronous query API, built apart from `listen()` so tests can `inject()` requests
 * without a port. Order matters: auth runs in onRequest, the rate limit (keyed by token) after
 * it, then schema validation, then the handler, all under `http.handlerTimeoutMs`.
 */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config, metrics, log } = deps;
  // Per-request lines would drown the log at dashboard rates: the API logs warnings and errors only.
  // pino's Logger is a FastifyBaseLogger; the cast keeps the instance type the one the routes expect.
  const quiet = log.child({}, { level: 'warn' }) as FastifyBaseLogger;
  const app = Fastify({
    loggerInstance: quiet,
    // The last resort for any request: past it, 503 API_TIMEOUT and request.signal aborts the query.
    handlerTimeout: config.http.handlerTimeoutMs,
    // A client that sends its request slower than this is cut off (slowloris).
    requestTimeout: 30_000,
    // Long enough for any valid id, so an overlong one reaches the schema and gets our 400, not fastify's 414.
    routerOptions: { maxParamLength: 256 },
    // Unknown query parameters are refused with a 400 naming them, not silently dropped; and so is
    // a number that coercion made infinite (finite-numbers.ts).
    // `x-examples` (named OpenAPI examples, which @fastify/swagger moves to the media object) is
    // documentation: declared so that Ajv's strict mode lets it through.
    ajv: { customOptions: { removeAdditional: false, keywords: ['x-examples'] }, plugins: [refuseNonFiniteNumbers] },
    // Errors raised before routing (a malformed URL) answer in the API's shape too.
    frameworkErrors: (error, _request, reply) => {
      // The reply of this hook is typed for a route-less generic that knows no status codes; it is an ordinary reply.
      void (reply as unknown as FastifyReply).status(400).send(errorBody(400, 'API_BAD_REQUEST', error.message));
    },
  });
  installErrorHandlers(app);
  installAuth(app, { ...config.auth, perMinute: config.rateLimit.perMinute });
  if (config.auth.openAccess) log.warn('auth.openAccess is on: the API answers anyone, with admin rights. For development only.');
  else if (config.auth.tokens.length === 0) log.warn('no API tokens configured (auth.tokens): every /api/v1 request will get 401');

  await app.register(rateLimit, {
    global: true,
    hook: 'preValidation',
    timeWindow: 60_000,
    // Per token; with open access everyone shares one principal, so per address instead.
    keyGenerator: (request) => (config.auth.openAccess || !request.principal ? request.ip : `token:${request.principal.name}`),
    max: (request) => request.principal?.perMinute ?? config.rateLimit.perMinute,
    allowList: (request) => request.principal === null,
    errorResponseBuilder: (_request, context) =>
      new ApiError('API_RATE_LIMITED', `rate limit of ${context.max} requests per minute reached; retry in ${context.after}`),
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.httpRequests.observe({ route, method: request.method, status: reply.statusCode }, reply.elapsedTime / 1000);
  });

  await registerOpenApi(app);
  registerOpsRoutes(app, deps.store, metrics, deps.readiness);
  registerDeviceRoutes(app, { store: deps.store, registry: deps.registry, staleAfterMs: config.query.staleAfterMs });
  registerReadingsRoutes(app, { store: deps.store, registry: deps.registry, query: config.query });
  registerAdminRoutes(app, deps.admin);
  if (deps.alerts) registerAlertRoutes(app, { alerts: deps.alerts, query: config.query });
  if (deps.commands)
    registerCommandRoutes(app, { commands: deps.commands, settings: config.commands, handlerTimeoutMs: config.http.handlerTimeoutMs });
  registerStreamRoutes(app, { alerts: deps.alerts, readings: deps.readings, metrics });
  registerWhoAmIRoute(app, config.auth.openAccess);
  registerDashboardRoutes(app);
  return app;
}
