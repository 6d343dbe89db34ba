// The OpenAPI examples of each command's `ok` data against what the agent's handlers really
// return: the same keys, so the document cannot drift from the agent. The handlers run on
// stand-ins for their sources (sensors, outbox, presence).
import { describe, expect, it } from 'vitest';
import { announceHandler } from '../agent/commands/announce.js';
import type { CommandContext, CommandResult } from '../agent/commands/handler.js';
import { outboxHandler } from '../agent/commands/outbox.js';
import { pingHandler } from '../agent/commands/ping.js';
import { readNowHandler } from '../agent/commands/read-now.js';
import { resendHandler } from '../agent/commands/resend.js';
import { setIntervalHandler } from '../agent/commands/set-interval.js';
import type { DurableOutbox } from '../agent/outbox/outbox.js';
import type { Presence } from '../agent/mqtt/presence.js';
import type { SensorControl } from '../agent/readings/sensor-control.js';
import type { SensorHealthBoard } from '../agent/readings/sensor-health.js';
import { COMMAND_DOCS } from '../backend/http/command-schemas.js';

const context: CommandContext = { signal: new AbortController().signal, requester: 'test', waitingFor: () => undefined };
const control = {
  ids: ['tc1'],
  has: (id: string) => id === 'tc1',
  readNow: () => Promise.resolve({ sensor: 'tc1', seq: 5, ts: 1, value: 800, unit: 'C', quality: 'good', clock: 'synced', stored: true }),
  setInterval: () => ({ previous: { intervalMs: 1000, setting: 'modbus.pollMs' }, current: { intervalMs: 500, setting: 'modbus.pollMs' } }),
} as unknown as SensorControl;
const board = { get: () => ({ state: 'ok', since: 0 }) } as unknown as SensorHealthBoard;
const outbox = {
  depth: 3,
  oldestAgeMs: () => 10,
  lastSeq: () => 9,
  droppedBy: { full: 0, expired: 0 },
  sent: { unconfirmed: () => ({ count: 3, oldestTs: 0 }), resendRange: () => ({ held: 5, last: 1047 }) },
} as unknown as DurableOutbox;

const keysOf = (data: unknown) => Object.keys(data as object).sort();
async function dataOf(result: CommandResult | Promise<CommandResult>): Promise<unknown> {
  const done = await result;
  if (done.outcome !== 'ok') throw new Error(`handler answered ${done.outcome}: ${done.reason}`);
  return done.data;
}

describe('OpenAPI examples of the commands', () => {
  it('have the keys of what the agent returns, command by command', async () => {
    const real = {
      'read-now': await dataOf(readNowHandler(control, board)({ sensor: 'tc1' }, context)),
      'set-interval': await dataOf(setIntervalHandler(control)({ sensor: 'tc1', intervalMs: 500 }, context)),
      announce: await dataOf(announceHandler({ announce: () => Promise.resolve() } as unknown as Presence)({}, context)),
      outbox: await dataOf(
        outboxHandler({ outbox, confirmBy: 'backend', confirmations: { lastConfirmedAt: 0 }, replaying: () => false })({}, context),
      ),
      // Part of the range not held: the reply carries its note, as the example does.
      resend: await dataOf(resendHandler(outbox, () => undefined)({ boot: 'b1', fromSeq: 1043, toSeq: 1049 }, context)),
      ping: await dataOf(pingHandler({ device: 'd', boot: 'b1', agentVersion: '0.1.0', startedAt: 0, clock: () => 'synced' })({}, context)),
    };
    for (const [command, data] of Object.entries(real)) {
      expect({ command, keys: keysOf(COMMAND_DOCS[command as keyof typeof real].data) }).toEqual({ command, keys: keysOf(data) });
    }
  });
});
