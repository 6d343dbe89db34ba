import { type Static, Type } from '@sinclair/typebox';
import { AlertTransition, SEGMENT_PATTERN, Severity } from '../../contract/index.js';
import { GLOB_PATTERN } from '../alerts/rules/glob.js';
import { OfflineRule, RateRule, SensorRule, StaleRule, ThresholdRule } from '../alerts/rules/rule-schema.js';
import { ErrorBody, TimeParam, UnixMs } from './schemas.js';

// Request and response schemas of the alert routes (alert-routes.ts). They mirror the shapes of
// backend/alerts/types.ts, so the OpenAPI document shows what the engine really answers.

const PHASES = ['inactive', 'pending', 'firing', 'resolved'] as const;
type Phase = (typeof PHASES)[number];

/** A stored transition: the contract's payload plus its place in the log. */
export const AlertRecord = Type.Composite([
  AlertTransition,
  Type.Object({
    seq: Type.Integer({ description: 'position in the alert log; the SSE event id' }),
    silenced: Type.Boolean({ description: 'a silence matched when it happened: kept, not notified' }),
  }),
]);

export const AlertsQuery = (maxLimit: number) =>
  Type.Object(
    {
      // An enum rather than a union of literals: its error lists the allowed values.
      state: Type.Optional(Type.Unsafe<Phase>({ type: 'string', enum: [...PHASES], description: 'only transitions into this state' })),
      device: Type.Optional(Type.String({ pattern: SEGMENT_PATTERN, description: 'one device' })),
      from: Type.Optional(TimeParam('transitions at or after this time')),
      to: Type.Optional(TimeParam('transitions before this time')),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLimit, description: 'transitions per page' })),
      cursor: Type.Optional(Type.String({ maxLength: 400, pattern: '^[A-Za-z0-9_-]+$', description: 'next of the previous page' })),
    },
    { additionalProperties: false },
  );
export type AlertsQuery = Static<ReturnType<typeof AlertsQuery>>;

export const AlertsPage = Type.Object({
  items: Type.Array(AlertRecord, { description: 'newest first' }),
  next: Type.Union([Type.String(), Type.Null()], { description: 'cursor of the next (older) page; null on the last' }),
});

export const ActiveAlertSchema = Type.Object({
  id: Type.String({ description: 'the transition that began this episode; POST /alerts/{id}/ack takes it' }),
  rule: Type.String(),
  device: Type.String(),
  sensor: Type.Optional(Type.String()),
  phase: Type.Union([Type.Literal('pending'), Type.Literal('firing')]),
  severity: Severity,
  labels: Type.Record(Type.String(), Type.String()),
  since: UnixMs('in this phase since'),
  value: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  message: Type.String(),
  acknowledged: Type.Optional(
    Type.Object({
      by: Type.String({ description: 'the token name' }),
      at: UnixMs('when'),
      comment: Type.Optional(Type.String({ description: 'what the operator said with it' })),
    }),
  ),
  silenced: Type.Boolean({ description: 'a silence matches it now' }),
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type IdParams = Static<typeof IdParams>;

export const AckBody = Type.Object(
  {
    comment: Type.Optional(
      Type.String({ maxLength: 1000, description: 'stored with the acknowledgement and shown with it in /alerts/active' }),
    ),
  },
  { additionalProperties: false, description: 'optional' },
);
export type AckBody = Static<typeof AckBody>;

const Glob = (what: string) => Type.Optional(Type.String({ pattern: GLOB_PATTERN, description: `${what}, exact or with *; default *` }));

export const SilenceSchema = Type.Object({
  id: Type.String(),
  matchers: Type.Object({ device: Type.String(), sensor: Type.String(), rule: Type.String() }),
  startsAt: UnixMs('silences from'),
  endsAt: UnixMs('silences until'),
  createdBy: Type.String({ description: 'the token name' }),
  comment: Type.String(),
  createdAt: UnixMs('created'),
});

export const SilencesQuery = Type.Object(
  { expired: Type.Optional(Type.Boolean({ description: 'true: also the silences that have ended; default false' })) },
  { additionalProperties: false },
);
export type SilencesQuery = Static<typeof SilencesQuery>;

/** A time in a JSON body: Unix ms as a number, or a string as the query parameters take it. */
const BodyTime = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0 }), TimeParam(description)], { description: `${description}: Unix ms or RFC 3339` });

export const NewSilenceBody = Type.Object(
  {
    matchers: Type.Object(
      { device: Glob('device id'), sensor: Glob('sensor id'), rule: Glob('rule id') },
      { additionalProperties: false, description: 'at least one; "*" to silence everything on purpose' },
    ),
    startsAt: Type.Optional(BodyTime('start; default now')),
    endsAt: BodyTime('end, after start and in the future'),
    comment: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type NewSilenceBody = Static<typeof NewSilenceBody>;

export const RuleSchema = Type.Union([ThresholdRule, RateRule, StaleRule, OfflineRule, SensorRule], {
  description: 'one alert rule (backend/alerts/README.md)',
});

export const RulesAnswer = Type.Object({
  source: Type.String({ description: 'where the rules came from: the rules file, or alerts.rules in the config' }),
  loadedAt: UnixMs('when they were applied'),
  rules: Type.Array(RuleSchema),
});

export const RulesInvalid = Type.Composite([
  ErrorBody,
  // Optional: the other 400s of the route (a malformed JSON body) have the plain shape.
  Type.Object({
    problems: Type.Optional(
      Type.Array(Type.String(), { description: 'with API_RULES_INVALID: every problem, naming the rule and the field' }),
    ),
  }),
]);
