import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CapturedLog } from '../../../test/helpers/test-broker.js';
import { waitFor } from '../../../test/helpers/wait-for.js';
import { BackendMetrics } from '../../metrics.js';
import { openAlertDb } from '../store/alert-db.js';
import type { ChannelItem } from '../types.js';
import type { DeliveryChannel } from './channel.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { ChannelOutbox } from './outbox.js';

const forget = (rule: string): ChannelItem => ({ kind: 'forget', device: 'oven-1', rule });

/** A channel whose answer per item the test decides; it records every attempt with its time. */
class ScriptedChannel implements DeliveryChannel {
  readonly name = 'scripted';
  readonly attempts: Array<{ rule: string; at: number }> = [];
  closed = false;
  ready: (() => void) | undefined;
  answer: (rule: string) => Promise<void> = () => Promise.resolve();
  wants = () => true;
  deliver(item: ChannelItem): Promise<void> {
    const rule = item.kind === 'forget' ? item.rule : item.event.rule;
    this.attempts.push({ rule, at: Date.now() });
    return this.answer(rule);
  }
  onReady(listener: () => void): void {
    this.ready = listener;
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

async function counter(metrics: BackendMetrics, outcome: string): Promise<number> {
  const samples = (await metrics.alertDeliveries.get()).values;
  return samples.find((sample) => sample.labels.outcome === outcome)?.value ?? 0;
}

describe('Dispatcher', () => {
  let dir: string;
  let db: Database.Database;
  let log: CapturedLog;
  let metrics: BackendMetrics;
  const dispatchers: Dispatcher[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alert-dispatcher-'));
    db = openAlertDb(dir);
    log = new CapturedLog();
    metrics = new BackendMetrics();
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const dispatcher of dispatchers.splice(0)) await dispatcher.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function dispatcher(channel: DeliveryChannel, options: Partial<DispatcherOptions> = {}): Dispatcher {
    const outbox = new ChannelOutbox(db, channel.name);
    const made = new Dispatcher({
      outbox,
      channel,
      retryMinMs: 100,
      retryMaxMs: 400,
      retryForMs: 2000,
      metrics,
      log: log.logger,
      ...options,
    });
    dispatchers.push(made);
    return made;
  }

  it('backs off from retryMinMs doubling to retryMaxMs, then records the item as failed at the deadline and goes on', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const channel = new ScriptedChannel();
    channel.answer = (rule) => (rule === 'dead' ? Promise.reject(new Error('receiver says no')) : Promise.resolve());
    const outbox = new ChannelOutbox(db, channel.name);
    outbox.enqueue(forget('dead'), Date.now());
    outbox.enqueue(forget('next'), Date.now());
    dispatcher(channel, { random: () => 0 }).start();
    await vi.advanceTimersByTimeAsync(3000);

    const offsets = channel.attempts.map(({ rule, at }) => `${rule}@${at - 1_000_000}`);
    // 100, 200, 400, then 400 capped; the last attempt falls on the deadline (2000 ms after enqueueing).
    expect(offsets).toEqual([
      'dead@0',
      'dead@100',
      'dead@300',
      'dead@700',
      'dead@1100',
      'dead@1500',
      'dead@1900',
      'dead@2000',
      'next@2000',
    ]);
    expect(outbox.failedRows()).toEqual([expect.objectContaining({ attempts: 8, lastError: 'receiver says no' })]);
    expect(outbox.pendingCount()).toBe(0);
    expect(await counter(metrics, 'retry')).toBe(7);
    expect(await counter(metrics, 'failed')).toBe(1);
    expect(await counter(metrics, 'delivered')).toBe(1);
    const fields = { level: 40, channel: 'scripted', eventId: 'forget:oven-1/dead', error: 'receiver says no' };
    expect(log.find(/failed for good/, fields)).toHaveLength(1);
    // One warning for the first failure; the repeats at debug level.
    expect(log.find(/will retry/, { level: 40 })).toHaveLength(1);
    expect((await metrics.alertOutboxPending.get()).values[0]?.value).toBe(0);
  });

  it('keeps the jitter within a quarter below the doubled pause, never under retryMinMs', async () => {
    vi.useFakeTimers({ now: 0 });
    const channel = new ScriptedChannel();
    channel.answer = () => Promise.reject(new Error('down'));
    new ChannelOutbox(db, channel.name).enqueue(forget('r'), 0);
    dispatcher(channel, { random: () => 1, retryForMs: Number.POSITIVE_INFINITY }).start();
    await vi.advanceTimersByTimeAsync(1000);
    const gaps = channel.attempts.slice(1).map((attempt, i) => attempt.at - (channel.attempts[i]?.at ?? 0));
    expect(gaps.slice(0, 4)).toEqual([100, 150, 300, 300]);
  });

  it('records an unreadable row as failed and delivers the next', async () => {
    const channel = new ScriptedChannel();
    db.prepare(`INSERT INTO alert_outbox (channel, item, state, enqueued_at, next_attempt_at) VALUES (?, '{oops', 'pending', 1, 1)`).run(
      channel.name,
    );
    const outbox = new ChannelOutbox(db, channel.name);
    outbox.enqueue(forget('ok'), Date.now());
    dispatcher(channel).start();
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 5000, what: 'the outbox to drain' });
    expect(channel.attempts.map((a) => a.rule)).toEqual(['ok']);
    expect(outbox.failedRows()[0]?.lastError).toMatch(/not JSON/);
  });

  it('retries at once when the channel says it is ready again, not at the end of its backoff', async () => {
    const channel = new ScriptedChannel();
    let up = false;
    channel.answer = () => (up ? Promise.resolve() : Promise.reject(new Error('offline')));
    const outbox = new ChannelOutbox(db, channel.name);
    outbox.enqueue(forget('r'), Date.now());
    const d = dispatcher(channel, { retryMinMs: 60_000, retryMaxMs: 60_000, retryForMs: Number.POSITIVE_INFINITY });
    d.start();
    await waitFor(() => outbox.head()?.attempts === 1, { timeoutMs: 5000, what: 'the first failed attempt' });
    d.wake(); // a wake does not cut a backoff short
    up = true;
    channel.ready?.();
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 5000, what: 'the retry on ready' });
    expect(channel.attempts).toHaveLength(2);
  });

  it('resumes the pending rows after a restart on the same database, in order', async () => {
    const first = new ScriptedChannel();
    first.answer = () => Promise.reject(new Error('down'));
    const outbox = new ChannelOutbox(db, first.name);
    for (const rule of ['a', 'b', 'c']) outbox.enqueue(forget(rule), Date.now());
    const before = dispatcher(first, { retryMinMs: 20, retryMaxMs: 50 });
    before.start();
    await waitFor(() => first.attempts.length >= 2, { timeoutMs: 5000, what: 'two failed attempts' });
    await before.stop();
    expect(first.closed).toBe(true);
    db.close();

    db = openAlertDb(dir);
    const second = new ScriptedChannel();
    const resumed = new ChannelOutbox(db, second.name);
    dispatcher(second, { outbox: resumed, retryMinMs: 20, retryMaxMs: 50 }).start();
    await waitFor(() => resumed.pendingCount() === 0, { timeoutMs: 5000, what: 'the resumed outbox to drain' });
    expect(second.attempts.map((a) => a.rule)).toEqual(['a', 'b', 'c']);
  });

  it('stop waits a bounded time for a hung attempt and leaves its row pending', async () => {
    const channel = new ScriptedChannel();
    channel.answer = () => new Promise<void>(() => {});
    const outbox = new ChannelOutbox(db, channel.name);
    outbox.enqueue(forget('r'), Date.now());
    const d = dispatcher(channel, { stopTimeoutMs: 50 });
    d.start();
    await waitFor(() => channel.attempts.length === 1, { timeoutMs: 5000, what: 'the attempt to start' });
    const started = Date.now();
    await d.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(channel.closed).toBe(true);
    expect(outbox.pendingCount()).toBe(1);
    expect(log.find(/still in flight at stop/)).toHaveLength(1);
  });
});
