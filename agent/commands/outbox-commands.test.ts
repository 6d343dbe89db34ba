// outbox, resend and ping against a real outbox (SQLite in a temp folder).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableOutbox, type NewReading } from '../outbox/outbox.js';
import type { CommandContext, CommandResult } from './handler.js';
import { outboxHandler } from './outbox.js';
import { pingHandler } from './ping.js';
import { resendHandler } from './resend.js';

const T0 = 1_800_000_000_000;
const context = (signal = new AbortController().signal): CommandContext => ({ signal, requester: 'test', waitingFor: () => undefined });
const data = (result: CommandResult) =>
  result.outcome === 'ok' ? (result.data as Record<string, unknown>) : expect.fail(`${result.outcome}: ${result.reason}`);
const readings = (count: number, from = T0): NewReading[] =>
  Array.from({ length: count }, (_, i) => ({
    ts: from + i,
    sensor: 'tc1',
    value: 800,
    unit: 'C',
    quality: 'good',
    clock: 'synced',
    replay: false,
  }));
const seqs = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => ({ seq: first + i }));

describe('outbox, resend and ping', () => {
  let dir: string;
  let outbox: DurableOutbox;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-commands-'));
    outbox = new DurableOutbox(dir);
  });
  afterEach(() => {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('outbox reports depth, unconfirmed readings, the oldest of each and the confirmation lag', async () => {
    outbox.appendMany('b1', readings(5));
    outbox.markSent(seqs(1, 3), T0 + 10);
    const now = () => T0 + 60_000;
    const handler = outboxHandler(
      { outbox, confirmBy: 'backend', confirmations: { lastConfirmedAt: T0 + 45_000 }, replaying: () => false },
      now,
    );
    expect(data(await handler({}, context()))).toEqual({
      depth: 5,
      oldestAgeMs: 60_000,
      unconfirmed: 3,
      oldestUnconfirmedAgeMs: 60_000,
      confirmBy: 'backend',
      confirmationLagMs: 15_000,
      lastSeq: 5,
      dropped: { full: 0, expired: 0 },
      replaying: false,
    });
    const fresh = outboxHandler({ outbox, confirmBy: 'broker', replaying: () => true }, now);
    expect(data(await fresh({}, context()))).toMatchObject({ confirmBy: 'broker', confirmationLagMs: null, replaying: true });
  });

  it('resend makes the readings of the range waiting again, sent or not, and says how many the outbox no longer held', async () => {
    outbox.appendMany('b1', readings(20));
    outbox.markSent(seqs(1, 20), T0);
    outbox.confirm('b1', [[1, 4]]); // confirmed and deleted: cannot be sent again
    outbox.appendMany('b2', readings(5)); // another boot, same seq range would be 21..25
    outbox.markSent(seqs(21, 25), T0);
    let resends = 0;
    const handler = resendHandler(outbox, () => resends++);
    const result = data(await handler({ boot: 'b1', fromSeq: 1, toSeq: 10 }, context()));
    expect(result).toMatchObject({ boot: 'b1', fromSeq: 1, toSeq: 10, held: 6, notHeld: 4 });
    expect(result.note).toMatch(/cannot be sent again/);
    expect(resends).toBeGreaterThan(0);
    expect(outbox.peek(100).map((entry) => entry.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(outbox.sent.unconfirmed().count).toBe(10 + 5);
    // A boot the outbox does not hold: nothing to send, and the publisher is not bothered.
    resends = 0;
    expect(data(await handler({ boot: 'b9', fromSeq: 1, toSeq: 3 }, context()))).toMatchObject({ held: 0, notHeld: 3 });
    expect(resends).toBe(0);
  });

  it('resend goes through a range of many readings in steps', async () => {
    outbox.appendMany('b1', readings(12_000));
    outbox.markSent(seqs(1, 12_000), T0);
    let resends = 0;
    const result = data(await resendHandler(outbox, () => resends++)({ boot: 'b1', fromSeq: 1, toSeq: 1_000_000 }, context()));
    expect(result).toMatchObject({ held: 12_000, notHeld: 988_000 });
    expect(resends).toBe(3);
    expect(outbox.sent.unconfirmed().count).toBe(0);
  });

  it('resend refuses a range that ends before it starts', async () => {
    const result = await resendHandler(outbox, () => undefined)({ boot: 'b1', fromSeq: 10, toSeq: 9 }, context());
    expect(result).toEqual({ outcome: 'refused', code: 'AGENT_COMMAND_BAD_ARGS', reason: 'argument toSeq: 9 is below fromSeq 10' });
  });

  it('ping says who answers, since when, and whether its clock is synchronised', async () => {
    const handler = pingHandler(
      { device: 'f1', boot: 'boot-1', agentVersion: '0.1.0', startedAt: T0, clock: () => 'unsynced' },
      () => T0 + 1234,
    );
    expect(data(await handler({}, context()))).toEqual({
      device: 'f1',
      boot: 'boot-1',
      uptimeMs: 1234,
      agentVersion: '0.1.0',
      clock: 'unsynced',
    });
  });
});
