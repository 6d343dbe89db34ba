// The writer thread: the store's one write connection, committing what ingest hands it and running
// retention. See write-thread.ts for why writes run here and not on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import type { RetentionPolicy } from './reading-store.js';
import { openSqliteFile } from './sqlite-file.js';
import { SqliteRetention } from './sqlite-retention.js';
import { SqliteWriter } from './sqlite-writer.js';
import { type PackedBatches, unpackBatches } from './write-transfer.js';

export interface WriteWorkerData {
  file: string;
  retention: RetentionPolicy;
}

export type WriteTask =
  | { kind: 'insert'; batches: PackedBatches }
  | { kind: 'retention'; now: number }
  | { kind: 'health' }
  | { kind: 'abort'; target: number }
  | { kind: 'close' };

export interface WriteRequest {
  id: number;
  task: WriteTask;
}

export type WriteResponse =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { message: string; code?: string | undefined } };

const port = parentPort;
if (port) {
  const { file, retention: policy } = workerData as WriteWorkerData;
  // Busy timeout 0 (sqlite-file.ts): a lock held by another process fails the commit at once, and
  // ingest retries it with backoff, as it did when this ran on the main thread; a wait here would
  // hold every write queued behind it without a word. Durability full, set per connection: a commit
  // is on disk before it is confirmed (sqlite-store.ts says why).
  const db = openSqliteFile(file, { durability: 'full', fileMustExist: true });
  const writer = new SqliteWriter(db);
  const retention = new SqliteRetention(db, policy);
  const running = new Map<number, AbortController>();

  const answer = (id: number, run: () => unknown) => {
    try {
      port.postMessage({ id, ok: true, result: run() } satisfies WriteResponse);
    } catch (error) {
      const { message, code } = error as Error & { code?: string };
      port.postMessage({ id, ok: false, error: { message, code } } satisfies WriteResponse);
    }
  };

  port.on('message', ({ id, task }: WriteRequest) => {
    switch (task.kind) {
      case 'insert':
        return answer(id, () => writer.write(unpackBatches(task.batches)));
      case 'health':
        // BEGIN IMMEDIATE takes the write lock without waiting: it fails at once if another process
        // holds it or the file cannot be written. Between two commits of this thread, so never against itself.
        return answer(id, () => db.exec('BEGIN IMMEDIATE; ROLLBACK;'));
      case 'abort':
        return running.get(task.target)?.abort();
      case 'close':
        // Ends this thread: the port closed, nothing is left to keep its loop alive.
        for (const controller of running.values()) controller.abort();
        answer(id, () => db.close());
        return port.close();
      case 'retention': {
        // Retention yields a turn between chunks: inserts that arrive meanwhile are committed in between.
        const controller = new AbortController();
        running.set(id, controller);
        void retention
          .apply(task.now, controller.signal)
          .then(
            (result) => answer(id, () => result),
            (error: unknown) =>
              answer(id, () => {
                throw error;
              }),
          )
          .finally(() => running.delete(id));
        return;
      }
    }
  });
}
