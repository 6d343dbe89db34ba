import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { type Logger, pino } from 'pino';
import type { ReadingBatch } from '../../contract/index.js';
import { BackendError } from '../errors.js';
import { type PackedAggregatePage, unpackAggregatePage } from './aggregate-transfer.js';
import { type QueryOutcome, QueryPool } from './query-pool.js';
import type {
  AggregatePage,
  AggregateQuery,
  BatchToInsert,
  DeviceSummary,
  GapQuery,
  InsertResult,
  Page,
  QueryOptions,
  RawPosition,
  RawQuery,
  ReadingStore,
  RetentionPolicy,
  RetentionResult,
  SeqGap,
  StoreHealth,
  StoredReading,
} from './reading-store.js';
import { MAIN_THREAD_ROLLUP_ROWS, type ReadingRow, aggregate, rollupRowsToRead, toReading } from './sqlite-queries.js';
import { openSqliteIn } from './sqlite-file.js';
import { readingsMigrations } from './sqlite-schema.js';
import { SeqRanges } from './sqlite-seq-ranges.js';
import { WriteThread } from './write-thread.js';

export interface SqliteStoreOptions {
  retention: RetentionPolicy;
  query: { workers: number; maxQueued: number; timeoutMs: number };
  log: Logger;
  observeQuery?: (kind: 'raw' | 'aggregate', outcome: QueryOutcome, seconds: number) => void;
}

const DEFAULTS: SqliteStoreOptions = {
  retention: { rawRetentionDays: 30, minuteRollupRetentionDays: 400, hourRollupRetentionDays: 0 },
  query: { workers: 2, maxQueued: 64, timeoutMs: 5000 },
  log: pino({ level: 'silent' }),
};

export const SQLITE_FILE = 'readings.sqlite';

/**
 * The embedded store: one SQLite file in WAL mode, zero set-up, right on a Pi too. A writer thread
 * commits and runs retention (see write-thread.ts); the main thread only reads, and answers the
 * queries whose cost is bounded up front: index lookups (latest, devices, gaps) and rollup
 * aggregates that read at most MAIN_THREAD_ROLLUP_ROWS rows. Raw ranges, raw aggregates and
 * anything else whose cost is not bounded go to worker threads (see query-pool.ts), where a
 * deadline applies; a bounded read needs none and would only pay the hop.
 */
export class SqliteReadingStore implements ReadingStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly writer: WriteThread;
  private readonly ranges: SeqRanges;
  private readonly pool: QueryPool;
  /** The main thread's reads, prepared once: preparing costs more than running them. */
  private readonly statements: Record<'listDevices' | 'device' | 'latest' | 'readings' | 'sensorCount', Database.Statement>;
  private readonly observeQuery: SqliteStoreOptions['observeQuery'];
  private lastWriteError: Error | undefined;

  constructor(dataDir: string, options: Partial<SqliteStoreOptions> = {}) {
    const { retention, query, log, observeQuery } = { ...DEFAULTS, ...options };
    this.file = join(dataDir, SQLITE_FILE);
    try {
      // This connection migrates the file, then only reads; the writer thread commits (write-worker.ts).
      // Busy timeout 0 (sqlite-file.ts): a migration blocked by another process fails at once rather
      // than hold the event loop. Durability full, as the writer's: a commit is on disk before it
      // returns. The backend confirms each commit to the agent, which then deletes those readings:
      // with NORMAL a power cut could undo a confirmed commit, and the readings would be gone from
      // both ends. Ingest groups readings into few transactions, so this is one sync per transaction.
      this.db = openSqliteIn(dataDir, SQLITE_FILE, { durability: 'full', migrations: readingsMigrations() });
    } catch (error) {
      throw new BackendError('BACKEND_STORE_OPEN_FAILED', `cannot open the SQLite store in ${dataDir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.writer = new WriteThread({ file: this.file, retention });
    this.ranges = new SeqRanges(this.db);
    this.pool = new QueryPool({ file: this.file, ...query, log, observe: observeQuery });
    this.observeQuery = observeQuery;
    const devices = 'SELECT device, first_seen AS firstSeen, last_seen AS lastSeen, readings FROM devices';
    this.statements = {
      listDevices: this.db.prepare(`${devices} ORDER BY device`),
      device: this.db.prepare(`${devices} WHERE device = ?`),
      latest: this.db.prepare('SELECT * FROM latest WHERE device = ? ORDER BY sensor'),
      // A scan of the device's readings, sorted: for tests and tools, not for the API.
      readings: this.db.prepare('SELECT * FROM readings WHERE device = ? ORDER BY seq, boot LIMIT ?'),
      // The sensors an all-sensor aggregate reads rollups of (sqlite-queries.ts lists them from `latest` too).
      sensorCount: this.db.prepare('SELECT count(*) FROM latest WHERE device = ?').pluck(),
    };
  }

  insertBatches(batches: readonly BatchToInsert[]): Promise<InsertResult> {
    return this.writer.insert(batches).then(
      (result) => {
        this.lastWriteError = undefined;
        return result;
      },
      (error: unknown) => {
        this.lastWriteError = asError(error);
        throw this.lastWriteError;
      },
    );
  }

  insertBatch(batch: ReadingBatch, receivedAt: number): Promise<InsertResult> {
    return this.insertBatches([{ batch, receivedAt }]);
  }

  listDevices(): Promise<DeviceSummary[]> {
    return this.read(() => this.statements.listDevices.all() as DeviceSummary[]);
  }

  device(device: string): Promise<DeviceSummary | undefined> {
    return this.read(() => this.statements.device.get(device) as DeviceSummary | undefined);
  }

  latest(device: string): Promise<StoredReading[]> {
    return this.read(() => (this.statements.latest.all(device) as ReadingRow[]).map(toReading));
  }

  readings(device: string, options: { limit?: number } = {}): Promise<StoredReading[]> {
    return this.read(() => (this.statements.readings.all(device, options.limit ?? 10_000) as ReadingRow[]).map(toReading));
  }

  rawRange(query: RawQuery, options: QueryOptions = {}): Promise<Page<StoredReading, RawPosition>> {
    return this.pool.run({ kind: 'raw', query }, options.signal);
  }

  aggregate(query: AggregateQuery, options: QueryOptions = {}): Promise<AggregatePage> {
    if (this.db.open) {
      const sensors = query.sensor === undefined ? (this.statements.sensorCount.get(query.device) as number) : 1;
      if (rollupRowsToRead(query, sensors) <= MAIN_THREAD_ROLLUP_ROWS) return this.mainThreadAggregate(query, options.signal);
    }
    return this.pool.run<PackedAggregatePage>({ kind: 'aggregate', query }, options.signal).then(unpackAggregatePage);
  }

  gaps(query: GapQuery): Promise<Page<SeqGap, { boot: string; fromSeq: number }>> {
    return this.read(() => this.ranges.list(query));
  }

  storedRuns(device: string, boot: string, from: number, to: number, limit: number): Promise<Array<[number, number]>> {
    return this.read(() => this.ranges.runsOverlapping(device, boot, from, to, limit));
  }

  applyRetention(now: number, options: { signal?: AbortSignal } = {}): Promise<RetentionResult> {
    return this.writer.retention(now, options.signal);
  }

  async health(): Promise<StoreHealth> {
    try {
      await this.writer.health();
    } catch (error) {
      return { writable: false, detail: (error as Error).message };
    }
    if (this.lastWriteError) return { writable: false, detail: `last write failed: ${this.lastWriteError.message}` };
    return { writable: true };
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.writer.close()]);
    if (this.db.open) this.db.close();
  }

  /**
   * A rollup aggregate with a bounded row count, on this thread's connection: its statement is
   * prepared once and cached, and the answer is made here, with no worker hop (posting the task,
   * packing and unpacking the page). Outcomes and errors are those of the pool, so callers and
   * metrics cannot tell the two paths apart.
   */
  private mainThreadAggregate(query: AggregateQuery, signal: AbortSignal | undefined): Promise<AggregatePage> {
    if (signal?.aborted) {
      this.observeQuery?.('aggregate', 'aborted', 0);
      return Promise.reject(new BackendError('STORE_QUERY_ABORTED', 'the query was cancelled'));
    }
    const started = performance.now();
    try {
      const page = aggregate(this.db, query);
      this.observeQuery?.('aggregate', 'ok', (performance.now() - started) / 1000);
      return Promise.resolve(page);
    } catch (error) {
      this.observeQuery?.('aggregate', 'failed', (performance.now() - started) / 1000);
      const { message, code } = asError(error) as Error & { code?: string };
      return Promise.reject(
        new BackendError('STORE_QUERY_FAILED', `query failed: ${message}${code ? ` (${code})` : ''}`, { cause: error }),
      );
    }
  }

  /** A main-thread read; a closed store answers with STORE_CLOSED rather than a TypeError. */
  private read<T>(query: () => T): Promise<T> {
    if (!this.db.open) return Promise.reject(new BackendError('STORE_CLOSED', 'the store is closed'));
    try {
      return Promise.resolve(query());
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }
}

/** better-sqlite3 throws SqliteError (an Error); anything else is wrapped so callers always get an Error. */
function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
