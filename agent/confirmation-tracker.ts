import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type StoredConfirmation, decodeStoredConfirmation, formatIssues, topics } from '../contract/index.js';
import { backoffDelay } from './reopening-link.js';
import type { DurableOutbox } from './outbox.js';

export interface ConfirmationTrackerOptions {
  client: MqttClient;
  outbox: DurableOutbox;
  device: string;
  /** Sent readings still unconfirmed this long after their PUBACK are sent again, ms. */
  timeoutMs: number;
  /** While nothing gets confirmed, the wait grows up to this, ms: a backend away for hours is not flooded. */
  maxTimeoutMs: number;
  /** Readings were made waiting again: the publisher sends them. */
  resend: () => void;
  log: Logger;
}

export type ResendReason = 'timeout' | 'hole' | 'reconnect';

export interface ConfirmationStats {
  /** Confirmations received and applied. */
  received: number;
  /** Confirmations refused (malformed, another device). */
  refused: number;
  /** Readings forgotten because the backend confirmed them. */
  confirmed: number;
  /** Readings made waiting again, by reason. */
  resent: Record<ResendReason, number>;
}

/** How often the timeout is checked. */
const CHECK_EVERY_MS = 1000;
/**
 * A sent reading below a confirmed run is a hole only once it had time to be committed: the
 * other lane's batch may still be on its way to the backend.
 */
const HOLE_GRACE_MS = 3000;
const MAX_BOOTS_REMEMBERED = 16;

/**
 * The agent's end of end-to-end delivery (`confirm.by: backend`). The backend publishes, retained
 * on `telemetry/v1/{device}/stored`, the runs of seq it has committed; this forgets exactly those
 * readings, and makes sent-but-unconfirmed ones waiting again (so the publisher sends them once
 * more, same boot and seq) when:
 * - a confirmation shows a hole: a sent reading below a confirmed run of its boot, not in it;
 * - the connection came back without a session: the broker may have lost what it held;
 * - nothing confirmed them within `timeoutMs` of their PUBACK (growing to `maxTimeoutMs` while
 *   nothing at all gets confirmed, e.g. the backend is down: the broker may hold them for it).
 * So no reading depends on the broker keeping a session, with any MQTT 3.1.1 broker.
 */
export class ConfirmationTracker {
  readonly stats: ConfirmationStats = { received: 0, refused: 0, confirmed: 0, resent: { timeout: 0, hole: 0, reconnect: 0 } };
  private readonly timer: NodeJS.Timeout;
  private readonly topic: string;
  /** Rounds of timeouts in a row without any confirmation between them. */
  private fruitlessRounds = 0;
  private failing = false;
  private refusalLogged = false;
  private stopped = false;
  /** The highest seq confirmed per boot: sent readings below it that stay unconfirmed are holes. */
  private readonly highestConfirmed = new Map<string, number>();

  constructor(private readonly options: ConfirmationTrackerOptions) {
    const { client, device } = options;
    this.topic = topics.stored(device);
    client.on('connect', (connack) => {
      client.subscribe(this.topic, { qos: 1 }, (error, granted) => {
        if (error || granted?.[0]?.qos === 128) {
          // Without it nothing is ever confirmed: readings are kept and sent again after each timeout.
          options.log.error({ err: error, topic: this.topic }, 'cannot subscribe to the backend confirmations (broker ACL?); readings are kept and sent again');
        }
      });
      if (!connack.sessionPresent && !this.stopped) this.resendAll('reconnect');
    });
    client.on('message', (topic, payload) => {
      if (topic === this.topic && !this.stopped) this.received(payload);
    });
    this.timer = setInterval(() => this.checkTimeout(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  /** The wait before unconfirmed readings are sent again, as it stands now. */
  get currentTimeoutMs(): number {
    const { timeoutMs, maxTimeoutMs } = this.options;
    return this.fruitlessRounds === 0 ? timeoutMs : backoffDelay(this.fruitlessRounds + 1, timeoutMs, maxTimeoutMs, () => 0.5);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private received(payload: Buffer): void {
    const decoded = decodeStoredConfirmation(this.options.device, payload);
    if (!decoded.ok) {
      this.stats.refused++;
      this.options.log[this.refusalLogged ? 'debug' : 'warn']({ cause: decoded.cause, detail: formatIssues(decoded.issues) }, 'confirmation refused');
      this.refusalLogged = true;
      return;
    }
    this.stats.received++;
    this.guarded(() => this.apply(decoded.value));
  }

  private apply(confirmation: StoredConfirmation): void {
    let confirmed = 0;
    for (const { boot, runs } of confirmation.boots) {
      confirmed += this.options.outbox.confirm(boot, runs);
      const highest = Math.max(this.highestConfirmed.get(boot) ?? 0, ...runs.map(([, last]) => last));
      // Most recent last; a few boots at most are remembered (an agent has one, plus the backlog of earlier ones).
      this.highestConfirmed.delete(boot);
      this.highestConfirmed.set(boot, highest);
      if (this.highestConfirmed.size > MAX_BOOTS_REMEMBERED) this.highestConfirmed.delete(this.highestConfirmed.keys().next().value as string);
    }
    if (confirmed > 0) {
      this.stats.confirmed += confirmed;
      this.fruitlessRounds = 0;
    }
    this.resendHoles();
  }

  /** What is still sent below the highest confirmed seq of its boot, past its grace, is not in the store. */
  private resendHoles(): void {
    const { outbox, log } = this.options;
    const graceBefore = Date.now() - HOLE_GRACE_MS;
    let holes = 0;
    for (const [boot, highest] of this.highestConfirmed) holes += outbox.resendHoles(boot, highest, graceBefore);
    if (holes === 0) return;
    this.stats.resent.hole += holes;
    log.warn({ readings: holes }, 'the backend is missing readings it was sent; sending them again');
    this.options.resend();
  }

  private resendAll(reason: ResendReason): void {
    this.guarded(() => {
      const count = this.options.outbox.resendSent();
      if (count === 0) return;
      this.stats.resent[reason] += count;
      this.options.log.info({ readings: count, reason }, 'sending again the readings the backend has not confirmed');
      this.options.resend();
    });
  }

  private checkTimeout(): void {
    this.guarded(() => {
      const { outbox, log } = this.options;
      // A hole seen by the last confirmation whose grace has passed since.
      this.resendHoles();
      const timeoutMs = this.currentTimeoutMs;
      const { oldestSentAt } = outbox.unconfirmed();
      if (oldestSentAt === undefined || Date.now() - oldestSentAt < timeoutMs) return;
      const count = outbox.resendSent(Date.now() - timeoutMs);
      if (count === 0) return;
      this.stats.resent.timeout += count;
      const fields = { readings: count, timeoutMs, round: this.fruitlessRounds + 1 };
      // Loud the first time; while the backend stays away, each round is quieter and further apart.
      log[this.fruitlessRounds === 0 ? 'warn' : 'debug'](fields, 'no confirmation from the backend in time; sending those readings again');
      this.fruitlessRounds++;
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
      this.options.log[this.failing ? 'debug' : 'error']({ err: error }, 'the outbox cannot record confirmations; the readings are kept');
      this.failing = true;
    }
  }
}
