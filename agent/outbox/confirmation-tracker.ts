import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type StoredConfirmation, decodeStoredConfirmation, formatIssues, topics } from '../../contract/index.js';
import { onceLevel } from '../../contract/log-once.js';
import type { DurableOutbox } from './outbox.js';

export interface ConfirmationTrackerOptions {
  client: MqttClient;
  outbox: DurableOutbox;
  device: string;
  /** Readings were made waiting again: the publisher sends them. */
  resend: () => void;
  log: Logger;
  /** For tests: how often due readings are looked for (default 1 s). */
  checkEveryMs?: number;
}

export type ResendReason = 'timeout' | 'hole';

export interface ConfirmationStats {
  /** Confirmations received and applied. */
  received: number;
  /** Confirmations refused (malformed, another device). */
  refused: number;
  /** Readings forgotten because the backend confirmed them. */
  confirmed: number;
  /** Readings made waiting again, by reason. */
  resent: Record<ResendReason, number>;
  /** When the last confirmation that forgot a reading came, Unix ms. */
  lastConfirmedAt: number | undefined;
  /** The broker granted the subscription to the confirmations (false: nothing will ever be confirmed). */
  subscribed: boolean;
}

/**
 * A sent reading the broker took before one the backend confirmed is a hole only after this
 * (growing with each send of it): a margin for a backend that confirms runs out of order.
 */
const HOLE_GRACE_MS = 3000;
/** Readings made waiting again per check at most: the replay lane sends them at its own pace anyway. */
const RESEND_CHUNK = 5000;
const MAX_BOOTS_REMEMBERED = 16;

/**
 * The agent's end of end-to-end delivery (`confirm.by: backend`). The backend publishes, retained
 * on `telemetry/v1/{device}/stored`, the runs of seq it has committed; this forgets exactly those
 * readings, and makes a sent but unconfirmed reading waiting again (the publisher sends it once
 * more, same boot and seq, marked replay) when
 * - it is a **hole**: the broker took it before a reading of its boot that the backend confirmed.
 *   The broker delivers in order and the backend commits in order, so it was lost on the way (a
 *   broker that crashed with the backend's queue in memory, or lost its session). This is also
 *   what covers a reconnect without a session: nothing is sent blindly again on a reconnect, so a
 *   backend down for hours is not answered with copies at every broker blip;
 * - its wait is over (`confirm.timeoutMs` after its PUBACK, doubling with each send of it up to
 *   `confirm.maxTimeoutMs`): for what no later confirmation can reveal (the backend was down, or
 *   nothing newer was read).
 * So no reading depends on the broker keeping a session, with any MQTT 3.1.1 broker.
 */
export class ConfirmationTracker {
  readonly stats: ConfirmationStats = {
    received: 0,
    refused: 0,
    confirmed: 0,
    resent: { timeout: 0, hole: 0 },
    lastConfirmedAt: undefined,
    subscribed: false,
  };
  private readonly timer: NodeJS.Timeout;
  private readonly topic: string;
  /** Per boot, when the broker took the latest reading the backend confirmed. */
  private readonly confirmedSentAt = new Map<string, number>();
  private failing = false;
  private refusalLogged = false;
  private timeoutsLogged = false;
  private stopped = false;
  private lastCheck = Date.now();
  /** Stop's waits for an empty outbox. */
  private readonly emptyWaiters: Array<() => void> = [];

  constructor(private readonly options: ConfirmationTrackerOptions) {
    const { client, log } = options;
    this.topic = topics.stored(options.device);
    client.on('connect', () => {
      client.subscribe(this.topic, { qos: 1 }, (error, granted) => {
        this.stats.subscribed = !error && granted?.[0]?.qos !== 128;
        // Without it nothing is ever confirmed: readings are kept and sent again on each timeout.
        if (!this.stats.subscribed)
          log.error(
            { err: error, topic: this.topic },
            'cannot subscribe to the backend confirmations (broker ACL?); readings are kept and sent again',
          );
      });
    });
    client.on('close', () => (this.stats.subscribed = false));
    client.on('message', (topic, payload) => {
      if (topic === this.topic && !this.stopped) this.received(payload);
    });
    this.timer = setInterval(() => this.check(), options.checkEveryMs ?? 1000);
    this.timer.unref();
  }

  /**
   * Resolves once the outbox is empty: every reading taken so far confirmed by the backend. A
   * stopping agent waits for it (bounded by shutdown.flushMs), so that its last readings are not
   * left to be sent again at the next start.
   */
  untilAllConfirmed(): Promise<void> {
    if (this.options.outbox.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.emptyWaiters.splice(0).forEach((resolve) => resolve());
  }

  private received(payload: Buffer): void {
    const decoded = decodeStoredConfirmation(this.options.device, payload);
    if (!decoded.ok) {
      this.stats.refused++;
      this.options.log[onceLevel(!this.refusalLogged)](
        { cause: decoded.cause, detail: formatIssues(decoded.issues) },
        'confirmation refused',
      );
      this.refusalLogged = true;
      return;
    }
    this.stats.received++;
    this.guarded(() => this.apply(decoded.value));
  }

  private apply(confirmation: StoredConfirmation): void {
    let confirmed = 0;
    for (const { boot, runs } of confirmation.boots) {
      const { removed, latestSentAt } = this.options.outbox.confirm(boot, runs);
      confirmed += removed;
      if (latestSentAt === undefined) continue;
      const latest = Math.max(this.confirmedSentAt.get(boot) ?? 0, latestSentAt);
      // Most recent last; a few boots at most are remembered (this one, and a backlog of earlier ones).
      this.confirmedSentAt.delete(boot);
      this.confirmedSentAt.set(boot, latest);
      if (this.confirmedSentAt.size > MAX_BOOTS_REMEMBERED) this.confirmedSentAt.delete(this.confirmedSentAt.keys().next().value as string);
    }
    if (confirmed > 0) {
      this.stats.confirmed += confirmed;
      this.stats.lastConfirmedAt = Date.now();
      if (this.timeoutsLogged) this.options.log.info({ confirmed }, 'the backend confirms readings again');
      this.timeoutsLogged = false;
      if (this.options.outbox.depth === 0) this.emptyWaiters.splice(0).forEach((resolve) => resolve());
    }
    this.resendHoles(Date.now());
  }

  private resendHoles(now: number): void {
    const { outbox, log } = this.options;
    let holes = 0;
    for (const [boot, before] of this.confirmedSentAt) holes += outbox.sent.resendHoles(boot, before, HOLE_GRACE_MS, now);
    if (holes === 0) return;
    this.stats.resent.hole += holes;
    log.warn({ readings: holes }, 'the backend lacks readings the broker took before ones it stored; sending them again');
    this.options.resend();
  }

  private check(): void {
    this.guarded(() => {
      const { outbox, log } = this.options;
      const now = Date.now();
      if (now < this.lastCheck - 1000) {
        // The clock stepped back (NTP, a Pi without a real-time clock): waits stamped in the future would never end.
        const rebased = outbox.sent.clockSteppedBack(now);
        log.warn({ steppedBackMs: this.lastCheck - now, rebased }, 'the clock stepped back; waits for confirmations restart from now');
      }
      this.lastCheck = now;
      // A hole seen by an earlier confirmation whose grace has passed since.
      this.resendHoles(now);
      const due = outbox.sent.resendDue(now, RESEND_CHUNK);
      if (due === 0) return;
      this.stats.resent.timeout += due;
      // Loud once per stretch without confirmations, quiet while it lasts.
      log[onceLevel(!this.timeoutsLogged)]({ readings: due }, 'no confirmation from the backend in time; sending those readings again');
      this.timeoutsLogged = true;
      this.options.resend();
    });
  }

  /** The outbox may refuse writes (a full disk): said loudly once, and the readings stay, to be confirmed later. */
  private guarded(work: () => void): void {
    try {
      work();
      if (this.failing) this.options.log.info('the outbox takes confirmations again');
      this.failing = false;
    } catch (error) {
      this.options.log[onceLevel(!this.failing, 'error')]({ err: error }, 'the outbox cannot record confirmations; the readings are kept');
      this.failing = true;
    }
  }
}
