import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import type { AlertEventRecord, AlertsService } from '../alerts/types.js';
import type { BackendConfig } from '../config.js';
import { ApiError } from '../errors.js';
import {
  AckBody,
  ActiveAlertSchema,
  AlertsPage,
  AlertsQuery,
  IdParams,
  NewSilenceBody,
  RulesAnswer,
  RulesInvalid,
  RuleSchema,
  SilenceSchema,
  SilencesQuery,
} from './alert-schemas.js';
import { decodeCursor, encodeCursor, fingerprint } from './cursor.js';
import { errorBody } from './error-handler.js';
import { errorResponses } from './schemas.js';
import { parseTime } from './time-params.js';

export interface AlertRouteDeps {
  alerts: AlertsService;
  query: Pick<BackendConfig['query'], 'defaultLimit' | 'maxLimit'>;
}

const readRoute = { access: 'read' as const };
const adminRoute = { access: 'admin' as const };
const security = [{ bearer: [] }];
const tags = ['alerts'];

/** A record as the API and the SSE stream answer it: the transition, with its seq and whether it was silenced. */
export const recordBody = (record: AlertEventRecord) => ({ ...record.event, seq: record.seq, silenced: record.silenced });

const bad = (name: string, message: string) => new ApiError('API_BAD_REQUEST', `${name}: ${message}`);
const byOf = (request: FastifyRequest) => request.principal?.name ?? 'unknown';

/** A time in a JSON body: Unix ms as a number, or a string; either way checked as a query's times are. */
const bodyTime = (name: string, value: number | string) => parseTime(name, String(value));

/** The YAML parser hands this over instead of failing, so the route can answer API_RULES_INVALID with `problems`. */
class UnparsableYaml {
  constructor(readonly problem: string) {}
}

function rulesInvalid(reply: FastifyReply, problems: string[]) {
  const message = `rules: refused whole (${problems.length} problem${problems.length === 1 ? '' : 's'}), the old rules keep running: ${problems[0] ?? ''}`;
  return reply.status(400).send({ ...errorBody(400, 'API_RULES_INVALID', message), problems });
}

/**
 * Alert history, active alerts and acknowledgement, silences and the rule set, all under
 * /api/v1. Registered as a plugin of its own so the YAML body parser of PUT /rules stays
 * within these routes.
 */
export function registerAlertRoutes(app: FastifyInstance, deps: AlertRouteDeps): void {
  // Loaded with the app (app.ready() or listen()); a failure surfaces there.
  void app.register((scope, _options, done) => {
    addRoutes(scope, deps);
    done();
  });
}

function addRoutes(app: FastifyInstance, deps: AlertRouteDeps): void {
  addHistoryRoutes(app, deps);
  addAckRoute(app, deps);
  addSilenceRoutes(app, deps);
  addSilenceRemoval(app, deps);
  addRuleRoutes(app, deps);
}

/** GET /alerts (the log of transitions) and GET /alerts/active. */
function addHistoryRoutes(app: FastifyInstance, { alerts, query: limits }: AlertRouteDeps): void {
  app.get<{ Querystring: AlertsQuery }>(
    '/api/v1/alerts',
    {
      config: readRoute,
      schema: {
        tags,
        summary: 'alert transitions, newest first, paged with cursor',
        description: 'Every transition stored in the alert log, silenced ones included (marked). `seq` is the SSE event id.',
        security,
        querystring: AlertsQuery(limits.maxLimit),
        response: { 200: AlertsPage, ...errorResponses(400, 401, 403, 429) },
      },
    },
    (request) => {
      const q = request.query;
      const from = q.from === undefined ? undefined : parseTime('from', q.from);
      const to = q.to === undefined ? undefined : parseTime('to', q.to);
      if (from !== undefined && to !== undefined && from >= to) throw bad('from', `${q.from} is not before to (${q.to})`);
      const limit = q.limit ?? limits.defaultLimit;
      // The cursor is the seq to continue below, tied to the filters: replayed on others it is refused, not answered with a mix.
      const key = fingerprint(['alerts', q.state, q.device, from, to]);
      const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 'alert', key).before;
      // One more than asked tells whether another page follows without a second query.
      const records = alerts.history({ state: q.state, device: q.device, from, to, limit: limit + 1, before });
      const page = records.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map(recordBody),
        next: records.length > limit && last ? encodeCursor({ k: 'alert', p: { before: last.seq } }, key) : null,
      };
    },
  );

  app.get(
    '/api/v1/alerts/active',
    {
      config: readRoute,
      schema: {
        tags,
        summary: 'alerts pending or firing now',
        security,
        response: { 200: Type.Object({ items: Type.Array(ActiveAlertSchema) }), ...errorResponses(401, 403, 429) },
      },
    },
    () => ({ items: alerts.active() }),
  );
}

/** POST /alerts/:id/ack. */
function addAckRoute(app: FastifyInstance, { alerts }: AlertRouteDeps): void {
  app.post<{ Params: IdParams; Body: AckBody | undefined }>(
    '/api/v1/alerts/:id/ack',
    {
      config: adminRoute,
      schema: {
        tags,
        summary: 'acknowledge an active alert: no more reminders until it resolves',
        description:
          'The id is that of /alerts/active. The comment is stored with who and when, and shown in `acknowledged`. An episode ' +
          'already acknowledged keeps its first acknowledgement; the next episode (the alert resolved and fired again) needs its own.',
        security,
        params: IdParams,
        body: AckBody,
        response: { 200: ActiveAlertSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
      // The body is optional, but a schema refuses a missing one ("body: must be object").
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    (request) => {
      const { id } = request.params;
      const comment = request.body?.comment?.trim();
      const alert = alerts.acknowledge(id, byOf(request), comment === '' ? undefined : comment);
      if (!alert) throw new ApiError('API_ALERT_NOT_FOUND', `id: no pending or firing alert has the id ${JSON.stringify(id)}`);
      return alert;
    },
  );
}

/** GET and POST /silences. */
function addSilenceRoutes(app: FastifyInstance, { alerts }: AlertRouteDeps): void {
  app.get<{ Querystring: SilencesQuery }>(
    '/api/v1/silences',
    {
      config: readRoute,
      schema: {
        tags,
        summary: 'silences now and to come (with expired=true: also the ended ones)',
        security,
        querystring: SilencesQuery,
        response: { 200: Type.Object({ items: Type.Array(SilenceSchema) }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    (request) => ({ items: alerts.silences(request.query.expired ?? false) }),
  );

  app.post<{ Body: NewSilenceBody }>(
    '/api/v1/silences',
    {
      config: adminRoute,
      schema: {
        tags,
        summary: 'silence the alerts that match: kept in history, not notified',
        security,
        body: NewSilenceBody,
        response: { 201: SilenceSchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const { matchers, comment } = request.body;
      // An empty matcher set silences everything: ask for that to be said with "*".
      if (Object.keys(matchers).length === 0) throw bad('matchers', 'give at least one of device, sensor, rule ("*" silences everything)');
      const now = Date.now();
      const startsAt = request.body.startsAt === undefined ? undefined : bodyTime('startsAt', request.body.startsAt);
      const endsAt = bodyTime('endsAt', request.body.endsAt);
      if (startsAt !== undefined && endsAt <= startsAt) throw bad('endsAt', `${endsAt} is not after startsAt (${startsAt})`);
      if (endsAt <= now) throw bad('endsAt', `${endsAt} is not in the future (now is ${now})`);
      const silence = alerts.addSilence({ matchers, startsAt, endsAt, comment }, byOf(request));
      return reply.status(201).send(silence);
    },
  );
}

/** DELETE /silences/:id. */
function addSilenceRemoval(app: FastifyInstance, { alerts }: AlertRouteDeps): void {
  app.delete<{ Params: IdParams }>(
    '/api/v1/silences/:id',
    {
      config: adminRoute,
      schema: {
        tags,
        summary: 'end a silence now',
        description:
          'The silence ends now (endsAt: now) and stays listed with expired=true until it is pruned. 404 when there is no such silence or it has ended already.',
        security,
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!alerts.removeSilence(id))
        throw new ApiError('API_SILENCE_NOT_FOUND', `id: no active or future silence has the id ${JSON.stringify(id)}`);
      return reply.status(204).send();
    },
  );
}

/** GET and PUT /rules, the latter in JSON or YAML. */
function addRuleRoutes(app: FastifyInstance, { alerts }: AlertRouteDeps): void {
  app.get(
    '/api/v1/rules',
    {
      config: readRoute,
      schema: {
        tags,
        summary: 'the alert rules running now, and where they came from',
        security,
        response: { 200: RulesAnswer, ...errorResponses(401, 403, 429) },
      },
    },
    () => alerts.rules(),
  );

  app.addContentTypeParser(['application/yaml', 'text/yaml', 'application/x-yaml'], { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseYaml(body as string));
    } catch (error) {
      done(null, new UnparsableYaml(`not valid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`));
    }
  });

  app.put<{ Body: unknown }>(
    '/api/v1/rules',
    {
      config: adminRoute,
      schema: {
        tags,
        summary: 'replace the whole rule set; a set with any problem is refused whole',
        description:
          'JSON `{"rules": [...]}`, or YAML (Content-Type application/yaml or text/yaml): a list of rules or a map with `rules:`. ' +
          'Every problem is listed in `problems`, naming the rule and the field. The rules file is rewritten so a restart keeps ' +
          'the new set; rules written inline in the backend config cannot be replaced (409).',
        security,
        consumes: ['application/json', 'application/yaml', 'text/yaml'],
        // Any body: the rule checks report every problem at once, which a schema's first error would hide.
        body: Type.Unknown({ description: '{ rules: Rule[] } or Rule[]' }),
        response: {
          200: Type.Object({ rules: Type.Array(RuleSchema) }),
          ...errorResponses(401, 403, 409, 415, 429),
          400: RulesInvalid,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body instanceof UnparsableYaml) return rulesInvalid(reply, [body.problem]);
      // An empty YAML body would parse as "no rules": too easy to send by mistake.
      if (body === null || body === undefined) return rulesInvalid(reply, ['body: empty; send `rules: []` to remove every rule']);
      const result = await alerts.replaceRules(body, byOf(request));
      if (result.ok) return { rules: result.rules };
      switch (result.code) {
        case 'API_RULES_INVALID':
          return rulesInvalid(reply, result.problems);
        case 'API_RULES_READ_ONLY':
          // errorBody knows no reason phrase for 409 (error-handler.ts); say it here.
          return reply.status(409).send(errorBody(409, result.code, result.message));
      }
    },
  );
}
