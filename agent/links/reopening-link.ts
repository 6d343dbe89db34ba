import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { backoffDelay } from '../../contract/backoff.js';
import { onceLevel } from '../../contract/log-once.js';

export type SourceState = 'opening' | 'open' | 'closed' | 'stalled';

/** One open connection (a serial port, a TCP socket), as an opener hands it over. */
export interface Connection {
  write(data: Buffer): void;
  close(): Promise<void>;
}

export interface ConnectionHandlers {
  onData: (chunk: Buffer) => void;
  /** The connection was lost (unplugged, reset by the peer); `reason` says how. */
  onClose: (reason: string) => void;
}

/** Opens one connection, or rejects saying why not. */
export type Opener = (handlers: ConnectionHandlers) => Promise<Connection>;

export interface ReopeningLinkOptions {
  /** What logs name: the path, or tcp://host:port. */
  describe: string;
  open: Opener;
  reopenMinMs?: number;
  reopenMaxMs: number;
  /** An open link that delivers no byte for this long is closed and reopened (ms; 0: never). */
  stallAfterMs?: number;
  log: Logger;
}

export interface LinkEvents {
  data: [chunk: Buffer];
  state: [state: SourceState, reason?: string];
}

/**
 * A byte link that keeps itself open: when it fails to open or is lost (a USB adapter
 * unplugged, a gateway rebooted), it reopens with growing, jittered delays until `stop()`;
 * when it is open but silent for too long (sensor hung, cable cut behind a converter), it is
 * closed and reopened, the one cure there is. A stall is a failure like the others: a port
 * that opens but stays silent is reopened with the same growing delays, not at once for ever.
 * Opening is no proof of health (a pseudo-terminal or a USB adapter opens fine with a dead
 * sensor behind it), so the delays start over only once the port has delivered data. The
 * first failure is logged loudly, the repeats quietly and the recovery once, as
 * signalk-server's serial reader does. Serial ports and TCP sockets are only different openers.
 */
export class ReopeningLink extends EventEmitter<LinkEvents> {
  private connection: Connection | undefined;
  /** Bumped at every attempt: events of an older attempt's connection are ignored. */
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Failures in a row (failed opens, losses, stalls) since the port last delivered data. */
  private failures = 0;
  /** When the first of those failures happened (ms), for the recovery's log line. */
  private failingSince = 0;
  private stopped = true;
  private stallAfterMs: number;

  constructor(protected readonly options: ReopeningLinkOptions) {
    super();
    this.stallAfterMs = options.stallAfterMs ?? 0;
  }

  /**
   * Changes the stall watchdog at run time (a Modbus bus polled at a new period by set-interval:
   * a slower poll must not read as a silent port). Applies from now on, to an open link at once.
   */
  setStallAfterMs(ms: number): void {
    this.stallAfterMs = ms;
    if (this.connection && !this.stopped) {
      clearTimeout(this.stallTimer);
      this.armStallTimer(this.attempt);
    }
  }

  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  start(): void {
    this.stopped = false;
    this.failures = 0;
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.attempt++;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stallTimer);
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  /** Sends bytes if the link is open; returns whether it was. */
  write(data: Buffer): boolean {
    if (!this.connection) return false;
    this.connection.write(data);
    return true;
  }

  private open(): void {
    const attempt = ++this.attempt;
    const { describe, log } = this.options;
    this.emit('state', 'opening');
    const current = () => attempt === this.attempt && !this.stopped;
    // A connection can be lost before its opener's promise settles (a gateway that takes the
    // connection and drops it at once): remember it, so the open below becomes a failure.
    let lostEarly: string | undefined;
    this.options
      .open({
        onData: (chunk) => {
          if (!current()) return;
          if (this.failures > 0) this.recovered();
          this.armStallTimer(attempt);
          this.emit('data', chunk);
        },
        onClose: (reason) => {
          if (!current()) return;
          if (!this.connection) {
            lostEarly = reason;
            return;
          }
          this.connection = undefined;
          clearTimeout(this.stallTimer);
          this.failed(reason);
        },
      })
      .then(
        (connection) => {
          if (!current()) {
            // stop() (or a newer attempt) came while this one was opening: close what just opened.
            void connection.close();
            return;
          }
          if (lostEarly !== undefined) {
            this.failed(lostEarly);
            return;
          }
          this.connection = connection;
          // Not yet a recovery: the count of failures stands until the port delivers data.
          if (this.failures > 0) log.debug({ path: describe, failures: this.failures }, 'port reopened; waiting for data');
          else log.info({ path: describe }, 'port open');
          this.emit('state', 'open');
          this.armStallTimer(attempt);
        },
        (error: unknown) => {
          if (current()) this.failed((error as Error).message);
        },
      );
  }

  private armStallTimer(attempt: number): void {
    const { stallAfterMs } = this;
    if (stallAfterMs <= 0) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      const connection = this.connection;
      if (this.stopped || attempt !== this.attempt || !connection) return;
      // Detach first, so the close is a reopen on our terms and not reported as the port vanishing.
      this.connection = undefined;
      this.attempt++;
      const reason = `no data for ${stallAfterMs} ms`;
      this.emit('state', 'stalled', reason);
      const delay = this.countFailure(reason, 'stalled');
      const closed = connection.close().catch((error: unknown) => {
        this.options.log.warn({ path: this.options.describe, err: error }, 'closing the stalled port failed');
      });
      // The wait counts from the stall; the port is opened again only once it is closed.
      const stalledAttempt = this.attempt;
      this.retryTimer = setTimeout(() => {
        void closed.then(() => {
          if (!this.stopped && this.attempt === stalledAttempt) this.open();
        });
      }, delay);
    }, stallAfterMs);
  }

  private failed(reason: string): void {
    if (this.stopped) return;
    this.emit('state', 'closed', reason);
    const delay = this.countFailure(reason, 'unavailable');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Counts one failure in a row and logs it; returns the wait before the next attempt. */
  private countFailure(reason: string, kind: 'stalled' | 'unavailable'): number {
    const { describe, log, reopenMinMs = 250, reopenMaxMs } = this.options;
    if (this.failures === 0) this.failingSince = Date.now();
    this.failures++;
    // ±20 % jitter: many agents (or many ports) that lost their link together do not retry in step.
    const delay = backoffDelay(this.failures, { minMs: reopenMinMs, maxMs: reopenMaxMs, jitter: { below: 0.2, above: 0.2 } });
    const fields = { path: describe, reason, failures: this.failures, retryInMs: delay };
    // One warning per outage; the attempts after it only at debug, or a dead port floods the log.
    const level = onceLevel(this.failures === 1);
    switch (kind) {
      case 'stalled':
        log[level](fields, 'port stalled; reopening');
        return delay;
      case 'unavailable':
        log[level](fields, this.failures === 1 ? 'port unavailable; retrying' : 'port still unavailable');
        return delay;
    }
  }

  /** The port delivered data after failing: it works again, and the next failure starts the delays over. */
  private recovered(): void {
    const { describe, log } = this.options;
    log.info({ path: describe, failures: this.failures, outageMs: Date.now() - this.failingSince }, 'port recovered');
    this.failures = 0;
  }
}
