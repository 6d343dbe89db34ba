// A query worker thread: one read-only connection to the store, answering range queries one at
// a time. See query-pool.ts for why queries run here and not on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { packAggregatePage } from './aggregate-transfer.js';
import type { AggregateQuery, RawQuery } from './reading-store.js';
import { openSqliteReader } from './sqlite-file.js';
import { aggregate, rawRange } from './sqlite-queries.js';

export type QueryTask = { kind: 'raw'; query: RawQuery } | { kind: 'aggregate'; query: AggregateQuery };

export interface QueryRequest {
  id: number;
  task: QueryTask;
}

export type QueryResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code?: string | undefined } };

export interface QueryWorkerData {
  file: string;
}

function answer(db: Database.Database, task: QueryTask): unknown {
  switch (task.kind) {
    case 'raw':
      return rawRange(db, task.query);
    case 'aggregate':
      return aggregate(db, task.query);
  }
}

const port = parentPort;
if (port) {
  const { file } = workerData as QueryWorkerData;
  const db = openSqliteReader(file);
  port.on('message', ({ id, task }: QueryRequest) => {
    let response: QueryResponse;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = answer(db, task);
      if (task.kind === 'aggregate') {
        const packed = packAggregatePage(result as ReturnType<typeof aggregate>);
        transfer = packed.transfer;
        response = { id, ok: true, result: packed.packed };
      } else response = { id, ok: true, result };
    } catch (error) {
      const { name, message, code } = error as Error & { code?: string };
      response = { id, ok: false, error: { name, message, code } };
    }
    port.postMessage(response, transfer);
  });
}
