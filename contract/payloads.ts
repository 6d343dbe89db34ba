import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { SEGMENT_PATTERN } from './device-id.js';

// The payload schemas of contract version 1. They are JSON Schema (TypeBox), so the
// same definitions validate MQTT payloads here and document the HTTP API.

const Segment = (description: string) => Type.String({ pattern: SEGMENT_PATTERN, description });
const UnixMillis = (description: string) => Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000, description });

export const Quality = Type.Union([Type.Literal('good'), Type.Literal('uncertain'), Type.Literal('bad')], {
  description: 'good; uncertain (e.g. out of the sensor range); bad (a fault reading, with no usable value)',
});
export type Quality = Static<typeof Quality>;

export const ClockState = Type.Union([Type.Literal('synced'), Type.Literal('unsynced')], {
  description: 'whether the agent knew its clock to be synchronised when it read',
});
export type ClockState = Static<typeof ClockState>;

export const Reading = Type.Object({
  seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'per-device counter that only grows' }),
  ts: UnixMillis('time of the reading at the source, Unix milliseconds'),
  sensor: Segment('sensor id'),
  value: Type.Union([Type.Number(), Type.Null()], { description: 'the measured value; null on a bad reading' }),
  unit: Type.String({ minLength: 1, maxLength: 16 }),
  quality: Quality,
  clock: ClockState,
  replay: Type.Boolean({ description: 'sent from the outbox after an outage' }),
});
export type Reading = Static<typeof Reading>;

/** The most readings one batch may carry; an agent splits larger backlogs. */
export const MAX_READINGS_PER_BATCH = 1000;

export const ReadingBatch = Type.Object({
  v: Type.Literal(1),
  device: Segment('device id; must equal the one in the topic'),
  boot: Segment('id new at each agent start'),
  readings: Type.Array(Reading, { minItems: 1, maxItems: MAX_READINGS_PER_BATCH }),
});
export type ReadingBatch = Static<typeof ReadingBatch>;

export const SensorInfo = Type.Object({
  id: Segment('sensor id'),
  unit: Type.String({ minLength: 1, maxLength: 16 }),
  min: Type.Optional(Type.Number({ description: 'lowest value the sensor can measure' })),
  max: Type.Optional(Type.Number({ description: 'highest value the sensor can measure' })),
});
export type SensorInfo = Static<typeof SensorInfo>;

export const DeviceStatus = Type.Object({
  v: Type.Literal(1),
  device: Segment('device id'),
  state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  ts: UnixMillis('when the agent set this status (for a will: when it connected)'),
  boot: Type.Optional(Segment('the agent boot this status belongs to')),
  agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
  sensors: Type.Optional(Type.Array(SensorInfo, { maxItems: 256 })),
});
export type DeviceStatus = Static<typeof DeviceStatus>;

export const SensorState = Type.Union([Type.Literal('ok'), Type.Literal('stalled'), Type.Literal('disconnected'), Type.Literal('faulty')]);
export type SensorState = Static<typeof SensorState>;

export const SensorsHealth = Type.Object({
  v: Type.Literal(1),
  device: Segment('device id'),
  ts: UnixMillis('when this report was made'),
  sensors: Type.Array(
    Type.Object({
      sensor: Segment('sensor id'),
      state: SensorState,
      since: UnixMillis('when the sensor entered this state'),
      reason: Type.Optional(Type.String({ maxLength: 500 })),
    }),
    { maxItems: 256 },
  ),
});
export type SensorsHealth = Static<typeof SensorsHealth>;

export const Severity = Type.Union([Type.Literal('critical'), Type.Literal('warning'), Type.Literal('info')]);
export type Severity = Static<typeof Severity>;

export const AlertState = Type.Object({
  v: Type.Literal(1),
  device: Segment('device id'),
  rule: Segment('rule id'),
  sensor: Type.Optional(Segment('sensor id')),
  state: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  severity: Severity,
  since: UnixMillis('when the alert entered this state'),
  eventId: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'firing: the event that began this episode (the id POST /api/v1/alerts/{id}/ack takes); resolved: the resolving event',
  }),
  value: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  message: Type.String({ maxLength: 1000 }),
});
export type AlertState = Static<typeof AlertState>;

export const AlertTransition = Type.Object({
  v: Type.Literal(1),
  id: Type.String({ minLength: 1, maxLength: 64, description: 'unique event id' }),
  device: Segment('device id'),
  rule: Segment('rule id'),
  sensor: Type.Optional(Segment('sensor id')),
  from: Type.Union([Type.Literal('inactive'), Type.Literal('pending'), Type.Literal('firing'), Type.Literal('resolved')]),
  to: Type.Union([Type.Literal('inactive'), Type.Literal('pending'), Type.Literal('firing'), Type.Literal('resolved')]),
  ts: UnixMillis('when the transition happened'),
  severity: Severity,
  value: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  message: Type.String({ maxLength: 1000 }),
});
export type AlertTransition = Static<typeof AlertTransition>;

/** The most boots, and seq runs per boot, one confirmation lists. */
export const MAX_CONFIRMED_BOOTS = 16;
export const MAX_CONFIRMED_RUNS = 256;

/**
 * What the backend has committed for one device (retained, on `telemetry/v1/{device}/stored`):
 * per boot, the runs of consecutive seq it holds that overlap what it committed since its last
 * confirmation. The agent forgets exactly the readings these runs cover, and sends again what
 * stays uncovered; a run is complete (every seq from `first` to `last` is stored), so a hole
 * between two runs, or below the lowest one, is a reading the backend does not have.
 */
export const StoredConfirmation = Type.Object({
  v: Type.Literal(1),
  device: Segment('device id; must equal the one in the topic'),
  ts: UnixMillis('when the backend made this confirmation (its clock)'),
  boots: Type.Array(
    Type.Object({
      boot: Segment('the agent boot the seq belong to'),
      runs: Type.Array(
        Type.Tuple([
          Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'first seq of the run' }),
          Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'last seq of the run' }),
        ]),
        { minItems: 1, maxItems: MAX_CONFIRMED_RUNS, description: '[first, last] runs of stored seq, ascending, not overlapping' },
      ),
    }),
    { minItems: 1, maxItems: MAX_CONFIRMED_BOOTS },
  ),
});
export type StoredConfirmation = Static<typeof StoredConfirmation>;

/** The commands an agent answers (cmd/v1/{device}/{command}); any other name gets a `refused` reply. */
export const COMMAND_NAMES = ['read-now', 'set-interval', 'announce', 'outbox', 'resend', 'ping'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** A request to an agent, on `cmd/v1/{device}/{command}` (QoS 1, not retained). */
export const Command = Type.Object({
  v: Type.Literal(1),
  requestId: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'unique per request; the reply carries it, and a redelivered request is answered from the agent cache, not run twice',
  }),
  deadline: UnixMillis(
    'the requester gives up at this time (its clock); an agent with a synchronised clock refuses a request that arrives after it',
  ),
  requester: Type.String({ minLength: 1, maxLength: 64, description: 'who asked: the token name, or the broker user' }),
  args: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the arguments of the command; see the command table' })),
});
export type Command = Static<typeof Command>;

/** The outcome of a command: done, refused before it was tried (with a reason), or failed while trying (with a code). */
export const CommandOutcome = Type.Union([Type.Literal('ok'), Type.Literal('refused'), Type.Literal('failed')]);
export type CommandOutcome = Static<typeof CommandOutcome>;

/** The answer, on `cmd/v1/{device}/{command}/reply` (QoS 1, not retained). */
export const CommandReply = Type.Object({
  v: Type.Literal(1),
  requestId: Type.String({ minLength: 1, maxLength: 64 }),
  command: Type.String({ minLength: 1, maxLength: 64, description: 'the command as named in the request topic' }),
  outcome: CommandOutcome,
  code: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'refused or failed: a stable code, e.g. AGENT_COMMAND_UNKNOWN' }),
  ),
  reason: Type.Optional(Type.String({ maxLength: 1000, description: 'refused or failed: what was wrong, for a person' })),
  data: Type.Optional(Type.Unknown({ description: 'ok: what the command returns; see the command table' })),
  ts: UnixMillis('when the agent answered (its clock)'),
});
export type CommandReply = Static<typeof CommandReply>;

// The arguments of each command, checked by the agent (a bad one gets a `refused` reply naming it)
// and by the backend before it sends anything (a 400).
export const CommandArgs = {
  'read-now': Type.Object({ sensor: Type.Optional(Segment('the sensor; default: the first one')) }, { additionalProperties: false }),
  'set-interval': Type.Object(
    {
      sensor: Segment('the sensor'),
      intervalMs: Type.Integer({
        minimum: 10,
        maximum: 86_400_000,
        description: 'the new sampling interval, ms: a line sensor keeps at most one reading per interval, a Modbus sensor is polled at it',
      }),
    },
    { additionalProperties: false },
  ),
  announce: Type.Object({}, { additionalProperties: false }),
  outbox: Type.Object({}, { additionalProperties: false }),
  resend: Type.Object(
    {
      boot: Segment('the boot the readings were taken under'),
      fromSeq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
      toSeq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    },
    { additionalProperties: false },
  ),
  ping: Type.Object({}, { additionalProperties: false }),
} as const satisfies Record<CommandName, TSchema>;
