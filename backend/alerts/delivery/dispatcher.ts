import type { Logger } from 'pino';
import { backoffDelay } from '../../../contract/backoff.js';
import { onceLevel } from '../../../contract/log-once.js';
import type { BackendMetrics } from '../../metrics.js';
import { type DeliveryChannel, itemLabel } from './channel.js';
import { describeError } from './errors.js';
import type { ChannelOutbox, OutboxRow } from './outbox.js';

export interface DispatcherOptions {
  outbox: ChannelOutbox;
  channel: DeliveryChannel;
  /** First pause after a failed attempt; it doubles up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
  /** How long after it was enqueued an item is retried before it is recorded as failed (Infinity: for ever). */
  retryForMs: number;
  metrics: Pick<BackendMetrics, 'alertDeliveries' | 'alertOutboxPending'>;
  log: Logger;
  now?: () => number;
  /** For the jitter; tests may pin it. */
  random?: () => number;
  /** stop() waits this long for the attempt in flight, then leaves its row pending (default 5000). */
  stopTimeoutMs?: number;
}

// setTimeout fires at once for delays above 2^31 - 1 ms; a far-off due time is re-checked instead.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Drains one channel's outbox, in order, one item in flight at a time. Each channel has its own
 * dispatcher, so a dead webhook only ever delays its own queue: the others, and the evaluation that
 * fills the queues, go on. Failed attempts back off exponentially with jitter; past the channel's
 * deadline an item is recorded as failed and the queue moves on.
 */
export class Dispatcher {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  /** stop() gave up waiting: whatever the late attempt brings must not touch the database. */
  private abandoned = false;
  /** wake() came while a drain was running: drain once more when it ends. */
  private again = false;

  constructor(private readonly options: DispatcherOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.log = options.log.child({ component: 'alerts:delivery', channel: options.channel.name });
    options.channel.onReady?.(() => this.retryNow());
  }

  get name(): string {
    return this.options.channel.name;
  }

  /** Resumes whatever the outbox holds (a restart loses nothing). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.wake();
  }

  /** New items were enqueued: deliver them now unless the head is backing off. */
  wake(): void {
    if (!this.started || this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = this.drain().finally(() => {
      this.inFlight = undefined;
      if (this.again) this.wake();
    });
  }

  /** The channel is back (MQTT reconnected): the head backing off is retried at once. */
  retryNow(): void {
    if (!this.started || this.stopped) return;
    this.guard(() => this.options.outbox.retryNow(this.now()));
    this.wake();
  }

  /** Stops the loop, waits (bounded) for the attempt in flight, and closes the channel. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.inFlight) {
      let bound: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        bound = setTimeout(() => resolve(true), this.options.stopTimeoutMs ?? 5000);
      });
      const late = await Promise.race([this.inFlight.then(() => false), timedOut]);
      clearTimeout(bound);
      if (late) {
        this.abandoned = true;
        this.log.warn('delivery still in flight at stop; its item stays pending and is sent again at the next start');
      }
    }
    await this.options.channel.close();
  }

  private async drain(): Promise<void> {
    this.again = false;
    clearTimeout(this.timer);
    try {
      for (;;) {
        if (this.stopped) return;
        const row = this.options.outbox.next(this.now());
        if (row === undefined) break;
        await this.attempt(row);
        this.again = false; // the next loop turn reads the outbox anyway
      }
      this.updatePending();
      this.schedule(this.options.outbox.nextDueAt());
    } catch (error) {
      // The outbox itself failed (disk full, database closed): count it, and try again later.
      this.log.error({ err: error }, 'alert outbox unreadable; trying again later');
      this.options.metrics.alertDeliveries.inc({ channel: this.name, outcome: 'error' });
      this.schedule(this.now() + this.options.retryMaxMs);
    }
  }

  private async attempt(row: OutboxRow): Promise<void> {
    const { outbox, channel, metrics } = this.options;
    if (row.item === undefined) {
      this.giveUp(row, 'unreadable item (not JSON)', 'unreadable');
      return;
    }
    const label = itemLabel(row.item);
    try {
      await channel.deliver(row.item);
    } catch (error) {
      if (this.abandoned) return;
      this.failedAttempt(row, label, describeError(error));
      return;
    }
    if (this.abandoned) return;
    outbox.delivered(row.id);
    metrics.alertDeliveries.inc({ channel: this.name, outcome: 'delivered' });
    this.updatePending();
    this.log.debug({ eventId: label, attempts: row.attempts + 1 }, 'alert delivered');
  }

  private failedAttempt(row: OutboxRow, label: string, error: string): void {
    const now = this.now();
    const deadline = row.enqueuedAt + this.options.retryForMs;
    if (now >= deadline) {
      this.giveUp(row, error, label);
      return;
    }
    // The last attempt falls on the deadline, so an item is tried for the whole of retryForMs.
    const at = Math.min(now + this.backoff(row.attempts), deadline);
    this.options.outbox.retryLater(row.id, error, at);
    this.options.metrics.alertDeliveries.inc({ channel: this.name, outcome: 'retry' });
    // The first failure of an item loudly, its repeats quietly: an outage is one warning per item.
    this.log[onceLevel(row.attempts === 0)](
      { eventId: label, attempts: row.attempts + 1, error, retryInMs: at - now },
      'alert delivery failed; will retry',
    );
  }

  private giveUp(row: OutboxRow, error: string, label: string): void {
    this.options.outbox.failed(row.id, error);
    this.options.metrics.alertDeliveries.inc({ channel: this.name, outcome: 'failed' });
    this.updatePending();
    this.log.warn(
      { eventId: label, attempts: row.attempts + 1, error, enqueuedAt: row.enqueuedAt },
      'alert delivery failed for good; kept in the outbox as failed',
    );
  }

  /** retryMinMs doubling per attempt up to retryMaxMs, up to a quarter less at random, never under retryMinMs. */
  private backoff(previousAttempts: number): number {
    const { retryMinMs: minMs, retryMaxMs: maxMs } = this.options;
    // Jitter spreads the retries of items that failed together (one receiver outage).
    return backoffDelay(previousAttempts + 1, { minMs, maxMs, jitter: { below: 0.25, above: 0 }, atLeastMin: true }, this.random);
  }

  private schedule(dueAt: number | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (dueAt === undefined || this.stopped) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, dueAt - this.now()));
    this.timer = setTimeout(() => this.wake(), delay);
    // Pending deliveries never keep the process alive: the backend's shutdown decides.
    this.timer.unref();
  }

  private updatePending(): void {
    this.guard(() => this.options.metrics.alertOutboxPending.set({ channel: this.name }, this.options.outbox.pendingCount()));
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.log.error({ err: error }, 'alert outbox unreadable');
      this.options.metrics.alertDeliveries.inc({ channel: this.name, outcome: 'error' });
    }
  }
}
