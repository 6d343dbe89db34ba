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
  /** The `data` of an `ok` reply, as an example: the shape the agent's handler returns (agent/commands/{command}.ts). */
  data: unknown;
}

export const COMMAND_DOCS: Record<CommandName, CommandDoc> = {
  'read-now': {
    access: 'read',
    summary: 'take a reading of a sensor now and return it (it is also stored and sent as usual)',
    request: { args: { sensor: 'tc1' }, timeoutMs: 2000 },
    // `seq` only when the outbox kept the reading (`stored`); `reason` only when the sensor's state has one.
    data: {
      sensor: 'tc1',
      seq: 1043,
      ts: 1764340000456,
      value: 812.7,
      unit: 'C',
      quality: 'good',
      clock: 'synced',
      stored: true,
      state: 'ok',
    },
  },
  'set-interval': {
    access: 'admin',
    summary: "change a sensor's sampling interval at run time, within its limits",
    request: { args: { sensor: 'tc1', intervalMs: 500 } },
    data: { sensor: 'tc1', intervalMs: 500, previousMs: 1000, setting: 'modbus.pollMs', persisted: false },
  },
  announce: {
    access: 'admin',
    summary: 'make the agent publish its birth (status) and sensor states again',
    request: {},
    data: { published: ['status', 'sensors'] },
  },
  outbox: {
    access: 'read',
    summary: "the agent's outbox: depth, unconfirmed readings, the oldest waiting, the confirmation lag",
    request: {},
    data: {
      depth: 12,
      oldestAgeMs: 1450,
      unconfirmed: 12,
      oldestUnconfirmedAgeMs: 1450,
      confirmBy: 'backend',
      confirmationLagMs: 480,
      lastSeq: 1055,
      dropped: { full: 0, expired: 0 },
      replaying: false,
    },
  },
  resend: {
    access: 'admin',
    summary: 'send a seq range again from the outbox (what the backend gap filling uses)',
    request: { args: { boot: 'mi1x4k2a-1f3c9d2e', fromSeq: 1043, toSeq: 1049 }, timeoutMs: 10_000 },
    data: {
      boot: 'mi1x4k2a-1f3c9d2e',
      fromSeq: 1043,
      toSeq: 1049,
      held: 5,
      notHeld: 2,
      // Only when some of the range was not held.
      note: 'readings the outbox no longer holds (confirmed by the backend and deleted, or dropped by its caps) cannot be sent again',
    },
  },
  ping: {
    access: 'read',
    summary: 'is the agent there: its device, boot, uptime, version and clock state',
    request: {},
    data: { device: 'furnace-1', boot: 'mi1x4k2a-1f3c9d2e', uptimeMs: 86_400_000, agentVersion: '0.1.0', clock: 'synced' },
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
      code: Type.Optional(
        Type.String({
          description:
            'refused or failed: a stable code from the agent (agent/errors.ts), e.g. AGENT_COMMAND_BAD_ARGS, AGENT_COMMAND_TIMED_OUT, AGENT_MODBUS_TIMEOUT',
        }),
      ),
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
          value: {
            outcome: 'refused',
            code: 'AGENT_COMMAND_BAD_ARGS',
            reason: 'argument sensor: no sensor "tc9" on this agent (it has tc1, tc2)',
            requestId: REQUEST_ID,
            ts: 1764340000456,
            latencyMs: 8.1,
          },
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
