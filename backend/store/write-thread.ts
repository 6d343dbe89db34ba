import { Worker } from 'node:worker_threads';
import { BackendError } from '../errors.js';
import type { BatchToInsert, InsertResult, RetentionResult } from './reading-store.js';
import type { WriteRequest, WriteResponse, WriteTask, WriteWorkerData } from './write-worker.js';
import { packBatches } from './write-transfer.js';

// Why the store commits on its own thread. A commit with synchronous = FULL waits for the disk
// (fsync), and better-sqlite3 waits on the thread that calls it: on the main thread that wait,
// and the inserts before it, were a third of the backend's CPU profile at 100 readings per
// message, time in which no MQTT packet was read, no alert judged, no /latest answered. Here the
// main thread hands a transaction over and goes on; what arrives meanwhile gathers in the write
// batcher and becomes the next transaction (group commit). The main thread keeps its own
// connection for reads (WAL lets them run beside this writer), and writes nothing itself, so the
// two never contend for SQLite's write lock.

/** An error of the writer thread, with SQLite's code (SQLITE_BUSY, SQLITE_FULL...) as better-sqlite3 gave it. */
export class SqliteWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SqliteError';
  }
}

interface Waiting {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * The compiled worker. Under vitest this module is the .ts source with no .js beside it, so it
 * runs the compiled worker from dist/ (test/global-setup.ts builds dist/ before any test).
 */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/backend/store/write-worker.js', here) : new URL('./write-worker.js', here);
}

/** The main thread's end of the writer thread: one request at a time in order, answered by id. */
export class WriteThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly data: WriteWorkerData) {}

  insert(batches: readonly BatchToInsert[]): Promise<InsertResult> {
    const { packed, transfer } = packBatches(batches);
    return this.request<InsertResult>({ kind: 'insert', batches: packed }, transfer);
  }

  async health(): Promise<void> {
    await this.request({ kind: 'health' });
  }

  retention(now: number, signal?: AbortSignal): Promise<RetentionResult> {
    const { id, answer } = this.send<RetentionResult>({ kind: 'retention', now });
    // Only to a live thread: a dead one took the retention with it, and a new one has nothing to abort.
    const abort = () => this.worker?.postMessage({ id: this.nextId++, task: { kind: 'abort', target: id } } satisfies WriteRequest);
    signal?.addEventListener('abort', abort, { once: true });
    return answer.finally(() => signal?.removeEventListener('abort', abort));
  }

  /** Lets the requests sent finish, then closes the connection and ends the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const worker = this.worker;
      if (!worker) return void (this.closed = true);
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      const done = this.request({ kind: 'close' }).catch(() => undefined);
      this.closed = true; // the close request is the last one taken
      await done;
      await exited;
    })();
    return this.closing;
  }

  private request<T>(task: WriteTask, transfer: ArrayBuffer[] = []): Promise<T> {
    return this.send<T>(task, transfer).answer;
  }

  private send<T>(task: WriteTask, transfer: ArrayBuffer[] = []): { id: number; answer: Promise<T> } {
    const id = this.nextId++;
    if (this.closed) return { id, answer: Promise.reject(new BackendError('STORE_CLOSED', 'the store is closed')) };
    const answer = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.post({ id, task }, transfer);
    });
    return { id, answer };
  }

  private post(request: WriteRequest, transfer: ArrayBuffer[] = []): void {
    (this.worker ?? this.spawn()).postMessage(request, transfer);
  }

  /** Started on first use; started again after a crash, which fails only the requests in flight. */
  private spawn(): Worker {
    const worker = new Worker(workerUrl(), { workerData: this.data satisfies WriteWorkerData });
    this.worker = worker;
    worker.on('message', (response: WriteResponse) => {
      const waiting = this.waiting.get(response.id);
      if (!waiting) return;
      this.waiting.delete(response.id);
      if (response.ok) waiting.resolve(response.result);
      else waiting.reject(new SqliteWriteError(response.error.message, response.error.code));
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const waiting of this.waiting.values())
        waiting.reject(new BackendError('STORE_WRITE_FAILED', `the store's writer thread failed: ${error.message}`, { cause: error }));
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    return worker;
  }
}
