import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { BackendError } from '../errors.js';
import type { QueryRequest, QueryResponse, QueryTask, QueryWorkerData } from './query-worker.js';

// Why range queries run in worker threads. better-sqlite3 is synchronous: a query that scans a
// million rows holds the thread that runs it for a second or more. On the main thread that would
// stall MQTT ingest, acknowledgements, /latest and /readyz alike: the failure would spread from the
// query path to the ingest path, which the design forbids. Bounding the cost of each query up
// front (page windows, limits, the widest range) keeps queries small, but cannot promise a time
// on a slow SD card or a busy machine. So each query runs on a worker with its own read-only
// connection (WAL lets readers run beside the writer), under a deadline. SQLite in better-sqlite3
// cannot be interrupted (it is built without the progress callback), so a query past its deadline
// is answered at once with an error, its worker is terminated and replaced; the abandoned thread
// ends when its statement returns. Abandoned threads count against the pool, so a storm of
// hopeless queries is refused with STORE_QUERY_BUSY instead of piling up threads.

export type QueryOutcome = 'ok' | 'timeout' | 'aborted' | 'busy' | 'failed';

export interface QueryPoolOptions {
  /** The SQLite file. */
  file: string;
  workers: number;
  maxQueued: number;
  timeoutMs: number;
  log: Logger;
  observe?: (kind: QueryTask['kind'], outcome: QueryOutcome, seconds: number) => void;
}

interface Job {
  id: number;
  task: QueryTask;
  started: number;
  settle: (error: Error | undefined, result?: unknown) => void;
  slot?: Slot | undefined;
}

interface Slot {
  worker: Worker;
  job?: Job | undefined;
}

/**
 * The compiled worker. Under vitest this module is the .ts source with no .js beside it, so it
 * runs the compiled worker from dist/ (test/global-setup.ts builds dist/ before any test).
 */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/backend/store/query-worker.js', here) : new URL('./query-worker.js', here);
}

export class QueryPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly abandoned = new Set<Promise<unknown>>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: QueryPoolOptions) {}

  run<T>(task: QueryTask, signal?: AbortSignal): Promise<T> {
    const { workers, maxQueued, timeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      const refuse = (code: 'STORE_CLOSED' | 'STORE_QUERY_BUSY' | 'STORE_QUERY_ABORTED', message: string, outcome: QueryOutcome) => {
        this.options.observe?.(task.kind, outcome, 0);
        reject(new BackendError(code, message));
      };
      if (this.closed) return refuse('STORE_CLOSED', 'the store is closed', 'failed');
      if (signal?.aborted) return refuse('STORE_QUERY_ABORTED', 'the query was cancelled', 'aborted');
      if (this.abandoned.size >= workers) {
        return refuse('STORE_QUERY_BUSY', 'the query workers are still finishing queries that ran out of time', 'busy');
      }
      const idle = this.slots.some((slot) => !slot.job) || this.slots.length < workers;
      if (!idle && this.queue.length >= maxQueued) return refuse('STORE_QUERY_BUSY', `${maxQueued} queries are already waiting`, 'busy');

      const onAbort = () => this.expire(job, 'aborted', new BackendError('STORE_QUERY_ABORTED', 'the query was cancelled'));
      const job: Job = {
        id: this.nextId++,
        task,
        started: performance.now(),
        settle: (error, result) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          job.settle = () => undefined; // once only: a late answer after a timeout is dropped
          if (error) reject(error);
          else resolve(result as T);
        },
      };
      const timer = setTimeout(() => {
        const message = `the query did not finish within ${timeoutMs} ms`;
        this.expire(job, 'timeout', new BackendError('STORE_QUERY_TIMEOUT', message));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.settle(new BackendError('STORE_CLOSED', 'the store is closed'));
    for (const slot of this.slots.splice(0)) {
      slot.job?.settle(new BackendError('STORE_CLOSED', 'the store is closed'));
      this.abandon(slot);
    }
    await Promise.all(this.abandoned);
  }

  private expire(job: Job, outcome: QueryOutcome, error: BackendError): void {
    this.options.observe?.(job.task.kind, outcome, (performance.now() - job.started) / 1000);
    job.settle(error);
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (job.slot) {
      this.options.log.warn({ kind: job.task.kind, outcome }, 'query abandoned; its worker is replaced');
      this.slots.splice(this.slots.indexOf(job.slot), 1);
      this.abandon(job.slot);
    }
    this.pump();
  }

  /** Terminates a worker; it counts as busy until its thread has really ended. */
  private abandon(slot: Slot): void {
    slot.worker.removeAllListeners();
    slot.worker.on('error', () => undefined); // a dying worker may still report; nobody waits for it
    const ended = slot.worker.terminate().finally(() => {
      this.abandoned.delete(ended);
      this.pump();
    });
    this.abandoned.add(ended);
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0) {
      const slot = this.slots.find((candidate) => !candidate.job) ?? (this.slots.length < this.options.workers ? this.spawn() : undefined);
      const job = slot && this.queue.shift();
      if (!slot || !job) return;
      slot.job = job;
      job.slot = slot;
      slot.worker.postMessage({ id: job.id, task: job.task } satisfies QueryRequest);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl(), { workerData: { file: this.options.file } satisfies QueryWorkerData });
    const slot: Slot = { worker };
    worker.on('message', (response: QueryResponse) => {
      const job = slot.job;
      if (!job || job.id !== response.id) return;
      slot.job = undefined;
      const seconds = (performance.now() - job.started) / 1000;
      if (response.ok) {
        this.options.observe?.(job.task.kind, 'ok', seconds);
        job.settle(undefined, response.result);
      } else {
        this.options.observe?.(job.task.kind, 'failed', seconds);
        const { message, code } = response.error;
        job.settle(new BackendError('STORE_QUERY_FAILED', `query failed: ${message}${code ? ` (${code})` : ''}`));
      }
      this.pump();
    });
    const fail = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      this.options.log.error({ err: error }, 'query worker failed');
      slot.job?.settle(new BackendError('STORE_QUERY_FAILED', `query worker failed: ${error.message}`, { cause: error }));
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`query worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
