import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

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
 * closed and reopened, the one cure there is. The first failure is logged loudly and the
 * repeats quietly, as signalk-server's serial reader does. Serial ports and TCP sockets are
 * only different openers.
 */
export class ReopeningLink extends EventEmitter<LinkEvents> {
  private connection: Connection | undefined;
  /** Bumped at every attempt: events of an older attempt's connection are ignored. */
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stalls = 0;
  private stopped = true;

  constructor(protected readonly options: ReopeningLinkOptions) {
    super();
  }

  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  start(): void {
    this.stopped = false;
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
          if (this.failures > 0 || this.stalls > 0) log.info({ path: describe, failures: this.failures }, 'port reopened');
          else log.info({ path: describe }, 'port open');
          this.failures = 0;
          this.emit('state', 'open');
          this.armStallTimer(attempt);
        },
        (error: unknown) => {
          if (current()) this.failed((error as Error).message);
        },
      );
  }

  private armStallTimer(attempt: number): void {
    const stallAfterMs = this.options.stallAfterMs ?? 0;
    if (stallAfterMs <= 0) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      const connection = this.connection;
      if (this.stopped || attempt !== this.attempt || !connection) return;
      this.stalls++;
      const reason = `no data for ${stallAfterMs} ms`;
      const level = this.stalls === 1 ? 'warn' : 'debug';
      this.options.log[level]({ path: this.options.describe, reason, stalls: this.stalls }, 'port stalled; reopening');
      this.emit('state', 'stalled', reason);
      // Detach first, so the close is a reopen on our terms and not reported as the port vanishing.
      this.connection = undefined;
      this.attempt++;
      void connection.close().finally(() => {
        if (!this.stopped) this.retryTimer = setTimeout(() => this.open(), this.options.reopenMinMs ?? 250);
      });
    }, stallAfterMs);
  }

  private failed(reason: string): void {
    if (this.stopped) return;
    const { describe, log } = this.options;
    this.failures++;
    const delay = backoffDelay(this.failures, this.options.reopenMinMs ?? 250, this.options.reopenMaxMs);
    this.emit('state', 'closed', reason);
    const fields = { path: describe, reason, retryInMs: delay, failures: this.failures };
    if (this.failures === 1) log.warn(fields, 'port unavailable; retrying');
    else log.debug(fields, 'port still unavailable');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}

/**
 * Exponential backoff from `minMs`, capped at `maxMs`, with ±20 % jitter so that many agents
 * (or many ports) do not retry in step. `failures` counts from 1.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(minMs * 2 ** Math.min(failures - 1, 20), maxMs);
  return Math.round(base * (0.8 + random() * 0.4));
}
