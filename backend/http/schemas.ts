import { type Static, Type } from '@sinclair/typebox';
import { ClockState, Quality, SEGMENT_PATTERN, SensorState } from '../../contract/index.js';
import { API_ERRORS } from '../errors.js';

// The HTTP API's request and response schemas (TypeBox: JSON Schema, so fastify validates and
// serialises with them and @fastify/swagger publishes them unchanged).

export const UnixMs = (description: string) => Type.Integer({ description: `${description}, Unix ms` });

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({
      description: `stable code: ${Object.entries(API_ERRORS)
        .map(([code, { statusCode }]) => `${code} (${statusCode})`)
        .join(', ')}`,
    }),
    error: Type.String({ description: 'the HTTP reason phrase' }),
    message: Type.String({ description: 'what went wrong, naming the parameter at fault' }),
  },
  { description: 'every error of the API has this shape' },
);

/** The error responses of a route, for its schema (and so for the OpenAPI document). */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
}

export const DeviceParams = Type.Object({
  device: Type.String({ pattern: SEGMENT_PATTERN, description: 'device id: 1 to 64 of A-Z a-z 0-9 _ -' }),
});
export type DeviceParams = Static<typeof DeviceParams>;

/** A time: RFC 3339 (`2025-11-28T14:00:00Z`, `...+01:00`) or Unix milliseconds. Checked further in time-params.ts. */
export const TimeParam = (description: string) =>
  Type.String({ minLength: 1, maxLength: 40, description: `${description}: RFC 3339 or Unix ms` });

export const StoredReadingSchema = Type.Object({
  sensor: Type.String(),
  seq: Type.Integer(),
  boot: Type.String(),
  ts: UnixMs('time at the source'),
  value: Type.Union([Type.Number(), Type.Null()]),
  unit: Type.String(),
  quality: Quality,
  clock: ClockState,
  replay: Type.Boolean(),
  receivedAt: UnixMs('time received by the backend'),
});

export const LatestReading = Type.Composite([
  StoredReadingSchema,
  Type.Object({
    ageMs: Type.Integer({ description: 'now minus ts (or receivedAt, see ageFrom): how stale the value is' }),
    ageFrom: Type.Union([Type.Literal('ts'), Type.Literal('receivedAt')], {
      description:
        'receivedAt when ts was more than 5 minutes ahead of receivedAt: the device clock was wrong, so the reading ' +
        'counts as taken when it arrived, for its age and for which reading is the latest',
    }),
  }),
]);

export const DeviceListItem = Type.Object({
  device: Type.String(),
  firstSeen: Type.Union([UnixMs('first readings batch received'), Type.Null()]),
  lastSeen: Type.Union([UnixMs('last readings batch received'), Type.Null()]),
  readings: Type.Integer({ description: 'readings stored' }),
  state: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Null()], { description: 'from the retained status topic' }),
});

export const DeviceStatusSchema = Type.Object({
  state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  ts: UnixMs('when the agent set it (for an offline will: when the agent had connected)'),
  receivedAt: UnixMs('when the backend received it'),
  boot: Type.Optional(Type.String()),
  agentVersion: Type.Optional(Type.String()),
});

export const DeviceSensor = Type.Object({
  sensor: Type.String(),
  unit: Type.Optional(Type.String()),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  health: Type.Union([
    Type.Object({ state: SensorState, since: UnixMs('in this state since'), reason: Type.Optional(Type.String()) }),
    Type.Null(),
  ]),
  latest: Type.Union([LatestReading, Type.Null()]),
  stale: Type.Boolean({ description: 'no reading for longer than query.staleAfterMs' }),
});

export const DeviceDetail = Type.Object({
  device: Type.String(),
  firstSeen: Type.Union([UnixMs('first readings batch received'), Type.Null()]),
  lastSeen: Type.Union([UnixMs('last readings batch received'), Type.Null()]),
  readings: Type.Integer(),
  status: Type.Union([DeviceStatusSchema, Type.Null()]),
  sensors: Type.Array(DeviceSensor),
});

/** The store's aggregates, and `band`: mean, min and max of each bucket in one answer (band-aggregate.ts). */
export const AGG_VALUES = ['mean', 'min', 'max', 'last', 'count', 'band'] as const;
export type AggParam = (typeof AGG_VALUES)[number];

export const ReadingsQuery = (maxLimit: number) =>
  Type.Object(
    {
      sensor: Type.Optional(Type.String({ pattern: SEGMENT_PATTERN, description: 'one sensor; default: every sensor of the device' })),
      from: Type.Optional(TimeParam('start, inclusive; default: one hour before `to`')),
      to: Type.Optional(TimeParam('end, exclusive; default: now')),
      every: Type.Optional(
        Type.String({ maxLength: 16, description: 'bucket width for aggregates: 30s, 1m, 15m, 1h, 1d or ms; none: raw readings' }),
      ),
      // An enum rather than a union of literals: its error lists the allowed values.
      points: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: maxLimit,
          description:
            'instead of `every`: about this many buckets over from..to (a chart: its width in pixels); the server picks the ' +
            'width a chart reads well (1s ... 30s, 1m ... 30m, 1h ... 12h, 1d ...) nearest to (to - from) / points, so 0.7 to ' +
            '1.5 times as many buckets come back, and answers it in `every`',
        }),
      ),
      agg: Type.Optional(
        Type.Unsafe<AggParam>({
          type: 'string',
          enum: [...AGG_VALUES],
          description:
            'with `every` or `points`; default mean. band: the mean as `value`, with `min` and `max` of each bucket, so peaks survive',
        }),
      ),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLimit, description: 'readings or points per page' })),
      cursor: Type.Optional(Type.String({ maxLength: 400, pattern: '^[A-Za-z0-9_-]+$', description: 'nextCursor of the previous page' })),
    },
    { additionalProperties: false },
  );
export type ReadingsQuery = Static<ReturnType<typeof ReadingsQuery>>;

export const ReadingsPage = Type.Object({
  device: Type.String(),
  sensor: Type.Optional(Type.String()),
  from: UnixMs('start of the range answered (for aggregates: rounded down to a bucket)'),
  to: UnixMs('end of the range answered (for aggregates: rounded up to a bucket)'),
  every: Type.Optional(Type.Integer({ description: 'bucket width, ms' })),
  agg: Type.Optional(Type.String()),
  source: Type.String({ description: 'raw, rollup_1m or rollup_1h: where the answer came from' }),
  readings: Type.Optional(Type.Array(StoredReadingSchema)),
  points: Type.Optional(
    Type.Array(
      Type.Object({
        sensor: Type.String(),
        t: UnixMs('bucket start'),
        value: Type.Number({ description: 'the aggregate; with agg=band, the mean' }),
        min: Type.Optional(Type.Number({ description: 'agg=band: the lowest value in the bucket' })),
        max: Type.Optional(Type.Number({ description: 'agg=band: the highest value in the bucket' })),
        count: Type.Integer({
          description: 'readings with a value in the bucket; values past ±1e12 (no real sensor reads them) are left out of every aggregate',
        }),
      }),
    ),
  ),
  truncated: Type.Boolean({ description: 'true: more follow; ask again with cursor=nextCursor' }),
  nextCursor: Type.Optional(Type.String()),
});

export const GapsQuery = (maxLimit: number) =>
  Type.Object(
    {
      boot: Type.Optional(Type.String({ pattern: SEGMENT_PATTERN, description: 'one agent boot; default: all' })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLimit })),
      cursor: Type.Optional(Type.String({ maxLength: 400, pattern: '^[A-Za-z0-9_-]+$' })),
    },
    { additionalProperties: false },
  );
export type GapsQuery = Static<ReturnType<typeof GapsQuery>>;

export const GapsPage = Type.Object({
  device: Type.String(),
  gaps: Type.Array(
    Type.Object({
      boot: Type.String(),
      fromSeq: Type.Integer({ description: 'first missing seq' }),
      toSeq: Type.Integer({ description: 'last missing seq' }),
      missing: Type.Integer({ description: 'readings missing' }),
      afterTs: UnixMs('source time of the reading before the gap'),
      beforeTs: UnixMs('source time of the reading after the gap'),
    }),
  ),
  truncated: Type.Boolean(),
  nextCursor: Type.Optional(Type.String()),
});
