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
import { type ReadingRow, toReading } from './sqlite-queries.js';
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
 * commits and runs retention (see write-thread.ts); the main thread answers the queries whose cost
 * is bounded by an index lookup (latest, devices, gaps); range queries go to worker threads (see
 * query-pool.ts).
 */
export class SqliteReadingStore implements ReadingStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly writer: WriteThread;
  private readonly ranges: SeqRanges;
  private readonly pool: QueryPool;
  /** The main thread's reads, prepared once: preparing costs more than running them. */
  private readonly statements: Record<'listDevices' | 'device' | 'latest' | 'readings', Database.Statement>;
  private lastWriteError: Error | undefined;

  constructor(dataDir: string, options: Partial<SqliteStoreOptions> = {}) {
    const { retention, query, log, observeQuery } = { ...DEFAULTS, ...options };
    this.file = join(dataDir, SQLITE_FILE);
    try {
      // Busy timeout 0 (sqlite-file.ts): better-sqlite3 would otherwise wait up to 5 s for a lock held by
      // another process, blocking the event loop (ingest, API, readiness) all that time. A busy store
      // fails fast instead, and ingest retries later without holding the thread.
      // Durability full: a commit is on disk before it returns. The backend confirms each commit to the
      // agent, which then deletes those readings: with NORMAL a power cut could undo a confirmed commit,
      // and the readings would be gone from both ends. Ingest groups readings into few transactions, so
      // this is one sync per transaction, not per reading.
      this.db = openSqliteIn(dataDir, SQLITE_FILE, { durability: 'full', migrations: readingsMigrations() });
    } catch (error) {
      throw new BackendError('BACKEND_STORE_OPEN_FAILED', `cannot open the SQLite store in ${dataDir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.writer = new WriteThread({ file: this.file, retention });
    this.ranges = new SeqRanges(this.db);
    this.pool = new QueryPool({ file: this.file, ...query, log, observe: observeQuery });
    const devices = 'SELECT device, first_seen AS firstSeen, last_seen AS lastSeen, readings FROM devices';
    this.statements = {
      listDevices: this.db.prepare(`${devices} ORDER BY device`),
      device: this.db.prepare(`${devices} WHERE device = ?`),
      latest: this.db.prepare('SELECT * FROM latest WHERE device = ? ORDER BY sensor'),
      // A scan of the device's readings, sorted: for tests and tools, not for the API.
      readings: this.db.prepare('SELECT * FROM readings WHERE device = ? ORDER BY seq, boot LIMIT ?'),
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
