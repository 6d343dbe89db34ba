import { type Logger, pino } from 'pino';
import type { ReadingBatch } from '../../../contract/index.js';
import { BackendError } from '../../errors.js';
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
  RetentionResult,
  SeqGap,
  StoreHealth,
  StoredReading,
} from '../reading-store.js';
import { InfluxError } from './influx-errors.js';
import { InfluxHttp, influxIdentifier } from './influx-http.js';
import { InfluxIndex, type NewReading } from './influx-index.js';
import { InfluxLineWriter } from './influx-line-writer.js';
import { aggregate, rawRange, readingsBySeq } from './influx-queries.js';
import { type InfluxSettings, influxDatabase } from './influx-settings.js';
import { type SendLines, v2Sender } from './influx-write-v2.js';
import { readingLine } from './line-protocol.js';

export interface InfluxStoreOptions {
  settings: InfluxSettings;
  /** Folder of the index file (seq ranges, latest, devices). */
  dataDir: string;
  /** Budget of one range query, ms (query.timeoutMs). */
  queryTimeoutMs?: number;
  log?: Logger;
  /** Readings InfluxDB refused for good: counted (a metric) by the caller; they are logged here. */
  onRefused?: (count: number, error: InfluxError) => void;
  observeQuery?: (kind: 'raw' | 'aggregate', outcome: 'ok' | 'timeout' | 'aborted' | 'failed', seconds: number) => void;
}

const HEALTH_CACHE_MS = 1000;

/**
 * Readings in InfluxDB; seq ranges, latest and device summaries in an embedded SQLite index
 * (influx-index.ts). insertBatches resolves only once InfluxDB has every new point (or refused it
 * for good, which is counted and logged), so ingest acknowledges nothing InfluxDB does not hold.
 * Writes are serialised: one store write at a time, as ingest sends them.
 */
export class InfluxReadingStore implements ReadingStore {
  private readonly http: InfluxHttp;
  private readonly index: InfluxIndex;
  private readonly log: Logger;
  private readonly closing = new AbortController();
  private writer: InfluxLineWriter | undefined;
  private modeDetected: Promise<InfluxLineWriter> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private lastWriteError: Error | undefined;
  private lastPing: { at: number; problem: string | undefined } | undefined;

  constructor(private readonly options: InfluxStoreOptions) {
    this.log = options.log ?? pino({ level: 'silent' });
    this.http = new InfluxHttp(options.settings);
    this.index = new InfluxIndex(options.dataDir);
  }

  /** Checks InfluxDB at start-up: reachable, credentials, database; logs what is wrong, naming the setting. Never throws: a store that is down now may be up later. */
  async start(): Promise<void> {
    try {
      await this.writerReady();
    } catch (error) {
      this.lastWriteError = error as Error;
      this.log.error({ code: (error as InfluxError).code }, `InfluxDB store not ready: ${(error as Error).message}`);
    }
  }

  insertBatches(batches: readonly BatchToInsert[]): Promise<InsertResult> {
    const run = this.queue.then(() => this.write(batches));
    this.queue = run.catch(() => undefined);
    return run;
  }

  insertBatch(batch: ReadingBatch, receivedAt: number): Promise<InsertResult> {
    return this.insertBatches([{ batch, receivedAt }]);
  }

  listDevices(): Promise<DeviceSummary[]> {
    return this.local(() => this.index.listDevices());
  }

  device(device: string): Promise<DeviceSummary | undefined> {
    return this.local(() => this.index.device(device));
  }

  latest(device: string): Promise<StoredReading[]> {
    return this.local(() => this.index.latest(device));
  }

  async readings(device: string, options: { limit?: number } = {}): Promise<StoredReading[]> {
    if (!this.index.device(device)) return [];
    return readingsBySeq((q) => this.query(q), device, options.limit ?? 10_000);
  }

  async rawRange(query: RawQuery, options: QueryOptions = {}): Promise<Page<StoredReading, RawPosition>> {
    if (!this.index.device(query.device)) return { items: [], truncated: false };
    return this.timed('raw', (signal) => rawRange((q) => this.query(q, signal), query), options.signal);
  }

  async aggregate(query: AggregateQuery, options: QueryOptions = {}): Promise<AggregatePage> {
    if (!this.index.device(query.device)) return { items: [], truncated: false, source: 'raw' };
    return this.timed('aggregate', (signal) => aggregate((q) => this.query(q, signal), query), options.signal);
  }

  gaps(query: GapQuery): Promise<Page<SeqGap, { boot: string; fromSeq: number }>> {
    return this.local(() => this.index.ranges.list(query));
  }

  storedRuns(device: string, boot: string, from: number, to: number, limit: number): Promise<Array<[number, number]>> {
    return this.local(() => this.index.ranges.runsOverlapping(device, boot, from, to, limit));
  }

  /** Raw readings expire by InfluxDB's own retention policy (store.influx.retentionPolicy, or the bucket's): nothing to do here. */
  applyRetention(): Promise<RetentionResult> {
    return Promise.resolve({ rawReadings: 0, minuteRollups: 0, hourRollups: 0 });
  }

  async health(): Promise<StoreHealth> {
    if (!this.index.open) return { writable: false, detail: 'the store is closed' };
    const local = this.index.writable();
    if (local) return { writable: false, detail: `the store's index file: ${local}` };
    const now = Date.now();
    if (!this.lastPing || now - this.lastPing.at > HEALTH_CACHE_MS) {
      const problem = await this.http.ping(AbortSignal.timeout(Math.min(1000, this.options.settings.timeoutMs))).then(
        () => undefined,
        (error: unknown) => (error as Error).message,
      );
      this.lastPing = { at: Date.now(), problem };
    }
    if (this.lastPing.problem) return { writable: false, detail: this.lastPing.problem };
    if (this.lastWriteError) return { writable: false, detail: `last write failed: ${this.lastWriteError.message}` };
    return { writable: true };
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.queue;
    this.index.close();
  }

  private async write(batches: readonly BatchToInsert[]): Promise<InsertResult> {
    if (!this.index.open) throw new BackendError('STORE_CLOSED', 'the store is closed');
    const { fresh, duplicates } = this.index.newReadings(batches);
    let refused: Array<{ point: NewReading; error: InfluxError }> = [];
    if (fresh.length > 0) {
      try {
        const writer = await this.writerReady();
        const points = fresh.map((item) =>
          Object.assign(item, { line: readingLine(item.device, item.boot, item.reading, item.receivedAt) }),
        );
        refused = await writer.write(points, this.closing.signal);
        this.lastWriteError = undefined;
        // InfluxDB just answered: a failed /ping remembered for health() no longer holds.
        this.lastPing = { at: Date.now(), problem: undefined };
      } catch (error) {
        this.lastWriteError = error as Error;
        throw error;
      }
    }
    const dropped = refused.map(({ point }) => point);
    if (refused.length > 0) this.reportRefused(refused);
    const done = new Set(dropped);
    return this.index.record(batches, done.size === 0 ? fresh : fresh.filter((item) => !done.has(item)), dropped, duplicates);
  }

  private reportRefused(refused: Array<{ point: NewReading; error: InfluxError }>): void {
    const first = refused[0];
    if (!first) return;
    this.options.onRefused?.(refused.length, first.error);
    const sample = refused
      .slice(0, 5)
      .map(({ point }) => ({ device: point.device, boot: point.boot, seq: point.reading.seq, sensor: point.reading.sensor }));
    this.log.error(
      { refused: refused.length, sample, code: first.error.code },
      `InfluxDB refused ${refused.length} readings for good; they are counted, confirmed to the agent and not retried: ${first.error.message}`,
    );
  }

  /** The writer for the write mode in force; `auto` asks /ping once for the version. v1 creates the database when asked to. */
  private writerReady(): Promise<InfluxLineWriter> {
    if (this.writer) return Promise.resolve(this.writer);
    this.modeDetected ??= this.detect().then(
      (writer) => (this.writer = writer),
      (error: unknown) => {
        this.modeDetected = undefined;
        throw error;
      },
    );
    return this.modeDetected;
  }

  private async detect(): Promise<InfluxLineWriter> {
    const { settings } = this.options;
    let mode = settings.writeMode;
    const version = await this.http.ping();
    if (mode === 'auto') mode = isBefore18(version) ? 'v1' : 'v2';
    this.log.info({ url: settings.url, version: version || 'unknown', writeMode: mode }, 'InfluxDB store: write mode');
    if (mode === 'v1' && settings.createDatabase) await this.ensureDatabase();
    const send: SendLines = mode === 'v1' ? (lines) => this.http.writeV1(lines.join('\n')) : v2Sender(settings, this.http.target, this.log);
    return new InfluxLineWriter(send, settings, {
      failed: (error, attempt, retryInMs) =>
        this.log.warn({ code: error.code, status: error.status, attempt, retryInMs }, `InfluxDB write failed: ${error.message}`),
    });
  }

  private async ensureDatabase(): Promise<void> {
    const database = influxDatabase(this.options.settings);
    const series = await this.http.query('SHOW DATABASES');
    const names = series.flatMap((one) => one.values.map((row) => row[0]));
    if (names.includes(database)) return;
    await this.http.query(`CREATE DATABASE ${influxIdentifier(database)}`, { write: true });
    this.log.info({ database }, 'InfluxDB store: database created (store.influx.createDatabase)');
  }

  private query(q: string, signal?: AbortSignal): Promise<import('./influx-http.js').InfluxSeries[]> {
    if (!this.index.open) return Promise.reject(new BackendError('STORE_CLOSED', 'the store is closed'));
    return this.http.query(q, { signal });
  }

  /** A range query within query.timeoutMs, cancelled with its caller. */
  private async timed<T>(
    kind: 'raw' | 'aggregate',
    work: (signal: AbortSignal) => Promise<T>,
    caller: AbortSignal | undefined,
  ): Promise<T> {
    if (caller?.aborted) throw new BackendError('STORE_QUERY_ABORTED', 'the query was cancelled');
    const budget = AbortSignal.timeout(this.options.queryTimeoutMs ?? 5000);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await work(caller ? AbortSignal.any([caller, budget]) : budget);
      this.options.observeQuery?.(kind, 'ok', seconds());
      return result;
    } catch (error) {
      if (budget.aborted && !caller?.aborted) {
        this.options.observeQuery?.(kind, 'timeout', seconds());
        throw new BackendError('STORE_QUERY_TIMEOUT', `the query ran past ${this.options.queryTimeoutMs ?? 5000} ms (query.timeoutMs)`, {
          cause: error,
        });
      }
      this.options.observeQuery?.(kind, caller?.aborted ? 'aborted' : 'failed', seconds());
      throw error;
    }
  }

  private local<T>(read: () => T): Promise<T> {
    if (!this.index.open) return Promise.reject(new BackendError('STORE_CLOSED', 'the store is closed'));
    try {
      return Promise.resolve(read());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** "1.6.7~rc0" → true; "2.7.1", "v2.7", "1.8.10", "" (unknown) → false. */
export function isBefore18(version: string): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (!match) return false;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major < 1 || (major === 1 && minor < 8);
}
