import { Type } from '@sinclair/typebox';
import { type CommandName, CommandArgs, CommandOutcome } from '../../contract/index.js';
import type { Scope } from './auth.js';
import { ErrorBody, UnixMs } from './schemas.js';

// Schemas and OpenAPI examples of POST /api/v1/devices/{device}/commands/{command}. The arguments
// are the contract's own CommandArgs schemas, so the API refuses exactly what the agent would.

interface CommandDoc {
  /** admin for what changes the agent or makes it send; read for what only asks. */
  access: Scope;
  summary: string;
  request: { args?: Record<string, unknown>; timeoutMs?: number };
  /** The `data` of an `ok` reply, as an example (contract/README.md describes each). */
  data: unknown;
}

export const COMMAND_DOCS: Record<CommandName, CommandDoc> = {
  'read-now': {
    access: 'read',
    summary: 'take a reading of a sensor now and return it (it is also stored and sent as usual)',
    request: { args: { sensor: 'tc1' }, timeoutMs: 2000 },
    data: { reading: { seq: 1043, ts: 1764340000456, sensor: 'tc1', value: 812.7, unit: 'C', quality: 'good', clock: 'synced', replay: false } },
  },
  'set-interval': {
    access: 'admin',
    summary: "change a sensor's sampling interval at run time, within its limits",
    request: { args: { sensor: 'tc1', intervalMs: 500 } },
    data: { sensor: 'tc1', intervalMs: 500, previousIntervalMs: 1000 },
  },
  announce: {
    access: 'admin',
    summary: 'make the agent publish its birth (status) and sensor states again',
    request: {},
    data: { status: true, sensors: true },
  },
  outbox: {
    access: 'read',
    summary: "the agent's outbox: depth, unconfirmed readings, the oldest waiting, the confirmation lag",
    request: {},
    data: { depth: 12, unconfirmed: 12, oldestWaitingTs: 1764339999000, confirmationLagMs: 480 },
  },
  resend: {
    access: 'admin',
    summary: 'send a seq range again from the outbox (what the backend gap filling uses)',
    request: { args: { boot: 'mi1x4k2a-1f3c9d2e', fromSeq: 1043, toSeq: 1049 }, timeoutMs: 10_000 },
    data: { held: 7, resent: 7 },
  },
  ping: {
    access: 'read',
    summary: 'is the agent there: its boot, uptime and version',
    request: {},
    data: { boot: 'mi1x4k2a-1f3c9d2e', uptimeMs: 86_400_000, agentVersion: '0.1.0' },
  },
};

export const CommandBody = (command: CommandName, maxTimeoutMs: number) =>
  Type.Object(
    {
      args: Type.Optional(CommandArgs[command]),
      timeoutMs: Type.Optional(
        Type.Integer({
          minimum: 100,
          maximum: maxTimeoutMs,
          description: 'how long to wait for the reply, ms (default commands.defaultTimeoutMs); past it: 504 API_DEVICE_TIMEOUT',
        }),
      ),
    },
    { additionalProperties: false, 'x-examples': { [command]: { value: COMMAND_DOCS[command].request } } },
  );

const REQUEST_ID = 'mi1x4k2b-9c41d2e07f3a5b68';

export const CommandAnswerSchema = (command: CommandName) =>
  Type.Object(
    {
      outcome: CommandOutcome,
      code: Type.Optional(Type.String({ description: 'refused or failed: a stable code from the agent, e.g. AGENT_SENSOR_UNKNOWN' })),
      reason: Type.Optional(Type.String({ description: 'refused or failed: what was wrong, for a person' })),
      data: Type.Optional(Type.Unknown({ description: 'ok: what the command returns' })),
      requestId: Type.String({ description: 'the id the request carried on MQTT; the agent log has it too' }),
      ts: UnixMs('when the agent answered (its clock)'),
      latencyMs: Type.Number({ description: 'from publishing the request to receiving the reply, ms' }),
    },
    {
      description: 'the agent reply, whatever its outcome: ok, refused (not tried) or failed (tried, did not work)',
      'x-examples': {
        ok: { value: { outcome: 'ok', data: COMMAND_DOCS[command].data, requestId: REQUEST_ID, ts: 1764340000456, latencyMs: 23.4 } },
        refused: {
          value: { outcome: 'refused', code: 'AGENT_COMMAND_BAD_ARGS', reason: 'args/sensor: no sensor "tc9"', requestId: REQUEST_ID, ts: 1764340000456, latencyMs: 8.1 },
        },
      },
    },
  );

export const OfflineErrorBody = Type.Composite(
  [ErrorBody, Type.Object({ offlineSince: UnixMs('when the backend learnt the device went offline (its will or last status arrived)') })],
  { description: 'the registry says the device is offline: nothing was sent' },
);

export const CommandParams = Type.Object({
  device: Type.String({ description: 'device id' }),
  command: Type.String({ maxLength: 256, description: 'a command name' }),
});
