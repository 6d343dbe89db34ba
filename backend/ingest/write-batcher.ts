import type { ReadingBatch } from '../../contract/index.js';
import type { InsertResult, ReadingStore } from '../store/reading-store.js';
import { retryUntilDone } from './retry.js';

export interface WriteBatcherOptions {
  store: Pick<ReadingStore, 'insertBatches'>;
  /** Commit once this many readings wait... */
  maxReadings: number;
  /** ...or once the oldest has waited this long. */
  maxDelayMs: number;
  /** Past this many uncommitted readings, `hasRoom` is false: the caller stops taking more. */
  maxPendingReadings: number;
  retryMaxDelayMs: number;
  onCommit?: (commit: CommitInfo) => void;
  onFailure?: (error: Error, attempt: number, retryInMs: number) => void;
  /** `onCommit` threw: the commit stands and its batches are released all the same. */
  onCommitError?: (error: Error) => void;
}

export interface CommitInfo {
  /** MQTT messages (readings batches) in this transaction. */
  batches: number;
  result: InsertResult;
  /** How long the store took, s. */
  commitSeconds: number;
  /** How long each batch waited from arrival to commit, s. */
  waitSeconds: number[];
}

interface Pending {
  batch: ReadingBatch;
  receivedAt: number;
  arrived: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Groups readings batches into few transactions: by count (`maxReadings`) and by time
 * (`maxDelayMs`). Few, larger commits matter on a Pi's SD card, where every commit rewrites whole
 * pages of each index. A failed commit is retried with growing pauses, with its batches kept at
 * the head; meanwhile new batches queue behind it up to `maxPendingReadings`, and past that the
 * caller (ingest) takes nothing more from the broker: memory stays bounded, and the broker holds
 * the rest.
 */
export class WriteBatcher {
  private readonly pending: Pending[] = [];
  private pendingReadings = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private failure: Error | undefined;
  private roomWaiters: Array<() => void> = [];
  private cancel: () => void = () => undefined;
  private readonly cancelled = new Promise<void>((resolve) => (this.cancel = resolve));

  constructor(private readonly options: WriteBatcherOptions) {}

  /** Resolves once the batch is committed; rejects only if the batcher closes first. */
  add(batch: ReadingBatch, receivedAt: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('write batcher closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, receivedAt, arrived: performance.now(), resolve, reject });
      this.pendingReadings += batch.readings.length;
      this.schedule();
    });
  }

  get hasRoom(): boolean {
    return this.pendingReadings < this.options.maxPendingReadings;
  }

  /** Resolves once `hasRoom` is true again. */
  room(): Promise<void> {
    return this.hasRoom || this.closed ? Promise.resolve() : new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  get uncommittedReadings(): number {
    return this.pendingReadings;
  }

  /** The error of the last commit, while commits keep failing. */
  get lastFailure(): Error | undefined {
    return this.failure;
  }

  /** Commits what is pending, giving up after `timeoutMs`; then rejects whatever is left and takes nothing more. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = setTimeout(() => this.stop(), timeoutMs);
    while (this.pending.length > 0 && !this.closed) await this.flush();
    clearTimeout(deadline);
    this.stop();
  }

  private stop(): void {
    this.closed = true;
    this.cancel();
    clearTimeout(this.timer);
    const error = new Error('write batcher closed before the batch was committed');
    for (const item of this.pending.splice(0)) item.reject(error);
    this.pendingReadings = 0;
    this.wakeRoomWaiters();
  }

  private schedule(): void {
    if (this.inFlight || this.closed) return;
    clearTimeout(this.timer);
    const oldest = this.pending[0];
    if (!oldest) return;
    const due = this.pendingReadings >= this.options.maxReadings ? 0 : oldest.arrived + this.options.maxDelayMs - performance.now();
    this.timer = setTimeout(() => void this.flush(), Math.max(0, due));
  }

  /** Commits the head of the queue; one commit at a time, callers share the one in flight. */
  private flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.inFlight ??= this.commitHead().finally(() => {
      this.inFlight = undefined;
      this.schedule();
    });
    return this.inFlight;
  }

  private async commitHead(): Promise<void> {
    clearTimeout(this.timer);
    const take = this.takeHead();
    const started = performance.now();
    let result: InsertResult;
    try {
      result = await retryUntilDone(() => this.options.store.insertBatches(take), {
        maxDelayMs: this.options.retryMaxDelayMs,
        onFailure: (error, attempt, retryInMs) => {
          this.failure = error;
          this.options.onFailure?.(error, attempt, retryInMs);
        },
        giveUp: () => this.closed,
        cancelled: this.cancelled,
      });
    } catch {
      // Only when closed: stop() has rejected what was pending.
      return;
    }
    const done = this.pending.splice(0, take.length);
    this.failure = undefined;
    this.pendingReadings -= done.reduce((sum, item) => sum + item.batch.readings.length, 0);
    const now = performance.now();
    // Committed is committed: the batches are released first, so a failing onCommit can never hold them.
    for (const item of done) item.resolve();
    if (this.hasRoom) this.wakeRoomWaiters();
    try {
      this.options.onCommit?.({
        batches: done.length,
        result,
        commitSeconds: (now - started) / 1000,
        waitSeconds: done.map((item) => (now - item.arrived) / 1000),
      });
    } catch (error) {
      this.options.onCommitError?.(error as Error);
    }
  }

  /** The oldest batches, up to `maxReadings` readings (at least one batch). */
  private takeHead(): Pending[] {
    let readings = 0;
    let count = 0;
    for (const item of this.pending) {
      if (count > 0 && readings + item.batch.readings.length > this.options.maxReadings) break;
      readings += item.batch.readings.length;
      count++;
    }
    return this.pending.slice(0, count);
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }
}
