import type { Reading, ReadingBatch } from '../../contract/index.js';

export interface StoredReading extends Reading {
  device: string;
  boot: string;
  /** When the backend received it, Unix ms. */
  receivedAt: number;
}

/**
 * How far a reading's source time may be ahead of when the backend received it and still be
 * believed: clock skew between agent and backend, not more. A reading stamped further ahead (a Pi
 * that booted with a wrong clock) cannot have been taken then: it is stored as sent, but for
 * "which reading is newest" and "how old is it" it counts as taken when it arrived.
 */
export const FUTURE_STAMP_TOLERANCE_MS = 5 * 60_000;

/** The time a reading stands for in `latest` and in ages: `ts`, or `receivedAt` when ts is too far ahead of it. */
export function trustedTime(reading: { ts: number; receivedAt: number }): number {
  return reading.ts > reading.receivedAt + FUTURE_STAMP_TOLERANCE_MS ? reading.receivedAt : reading.ts;
}

/**
 * The largest magnitude of a value that aggregates take in. No sensor of a plant reads beyond it
 * (a temperature, a pressure in Pa, a count), while a value such as 1.7e308 would make a bucket's
 * sum overflow. Such a value is stored and answered as a raw reading, but left out of every
 * aggregate (mean, min, max, last and count), as a reading without a value is.
 */
export const AGGREGATE_MAGNITUDE_LIMIT = 1e12;

export function aggregatable(value: number | null): value is number {
  return value !== null && Math.abs(value) <= AGGREGATE_MAGNITUDE_LIMIT;
}

export interface DeviceSummary {
  device: string;
  /** First batch received, Unix ms. */
  firstSeen: number;
  /** Last batch received, Unix ms. */
  lastSeen: number;
  /** Readings stored for this device (retention lowers it). */
  readings: number;
}

export interface InsertResult {
  inserted: number;
  /** Already stored under the same (device, boot, seq): a QoS 1 redelivery or an outbox replay. */
  duplicates: number;
  /** Seq gaps this write opened (a late reading that splits a gap in two opens one too). */
  gapsOpened: number;
  /** Seq gaps this write filled completely. */
  gapsClosed: number;
}

export interface BatchToInsert {
  batch: ReadingBatch;
  receivedAt: number;
}

/** A missing range of seq within one (device, boot): readings that never arrived (yet). */
export interface SeqGap {
  device: string;
  boot: string;
  /** First missing seq. */
  fromSeq: number;
  /** Last missing seq. */
  toSeq: number;
  /** Source time of the reading just before the gap (seq fromSeq - 1). */
  afterTs: number;
  /** Source time of the reading just after the gap (seq toSeq + 1). */
  beforeTs: number;
}

export type Aggregate = 'mean' | 'min' | 'max' | 'last' | 'count';
export const AGGREGATES: readonly Aggregate[] = ['mean', 'min', 'max', 'last', 'count'];

/** Where an aggregate was computed from; the coarsest source that answers exactly is chosen. */
export type AggregateSource = 'raw' | 'rollup_1m' | 'rollup_1h';

/** Position after the last raw reading of a page: the order is (ts, sensor, boot, seq). */
export interface RawPosition {
  ts: number;
  sensor: string;
  boot: string;
  seq: number;
}

/** Position after the last point of an aggregate page: the order is (bucket, sensor). */
export interface AggregatePosition {
  bucket: number;
  sensor: string;
}

export interface RawQuery {
  device: string;
  sensor?: string | undefined;
  /** Inclusive, Unix ms. */
  from: number;
  /** Exclusive, Unix ms. */
  to: number;
  limit: number;
  after?: RawPosition | undefined;
}

export interface AggregateQuery {
  device: string;
  sensor?: string | undefined;
  /** Inclusive, a multiple of `every`. */
  from: number;
  /** Exclusive, a multiple of `every`. */
  to: number;
  /** Bucket width in ms; buckets start at multiples of it since the Unix epoch. */
  every: number;
  agg: Aggregate;
  limit: number;
  after?: AggregatePosition | undefined;
  /** `raw` forces the raw readings (benchmarks compare); default: the coarsest exact source. */
  source?: 'auto' | 'raw' | undefined;
}

export interface AggregatePoint {
  sensor: string;
  /** Bucket start, Unix ms. */
  bucket: number;
  /** The aggregate; a bucket without any reading that has a value is left out, so never null. */
  value: number;
  /** Readings with a value in the bucket (bad readings carry none, values past AGGREGATE_MAGNITUDE_LIMIT are left out). */
  count: number;
}

export interface Page<T, P> {
  items: T[];
  /** More items follow: ask again with `after: next`. Never a silent cap. */
  truncated: boolean;
  next?: P | undefined;
}

export interface AggregatePage extends Page<AggregatePoint, AggregatePosition> {
  source: AggregateSource;
}

export interface GapQuery {
  device: string;
  boot?: string | undefined;
  limit: number;
  /** Gaps after this one, in (boot, fromSeq) order. */
  after?: { boot: string; fromSeq: number } | undefined;
}

/** Cancels a query that is no longer wanted (the client went away, or the request budget ran out). */
export interface QueryOptions {
  signal?: AbortSignal | undefined;
}

export interface RetentionPolicy {
  rawRetentionDays: number;
  minuteRollupRetentionDays: number;
  /** 0: kept for ever. */
  hourRollupRetentionDays: number;
}

export interface RetentionResult {
  rawReadings: number;
  minuteRollups: number;
  hourRollups: number;
}

export interface StoreHealth {
  writable: boolean;
  /** Why not, when not. */
  detail?: string | undefined;
}

/**
 * Where readings live. One interface, several engines (SQLite now, InfluxDB later), all
 * passing the same contract tests (`describeReadingStoreContract`). Asynchronous, because not
 * every engine is in-process.
 */
export interface ReadingStore {
  /** Stores batches atomically, all or none: once this resolves, every reading of them is committed. */
  insertBatches(batches: readonly BatchToInsert[]): Promise<InsertResult>;
  /** One batch: `insertBatches([{ batch, receivedAt }])`. */
  insertBatch(batch: ReadingBatch, receivedAt: number): Promise<InsertResult>;
  listDevices(): Promise<DeviceSummary[]>;
  device(device: string): Promise<DeviceSummary | undefined>;
  /**
   * The newest reading of each sensor of a device, by sensor; empty for an unknown device. Newest by
   * `trustedTime`: source time, unless it is more than FUTURE_STAMP_TOLERANCE_MS ahead of arrival.
   */
  latest(device: string): Promise<StoredReading[]>;
  /** Readings of a device in seq order, oldest first (default limit 10 000). */
  readings(device: string, options?: { limit?: number }): Promise<StoredReading[]>;
  /** Raw readings in [from, to), ordered by (ts, sensor, boot, seq). */
  rawRange(query: RawQuery, options?: QueryOptions): Promise<Page<StoredReading, RawPosition>>;
  /** Aggregated buckets in [from, to), ordered by (bucket, sensor); empty buckets are left out. Values that are not `aggregatable` are left out. */
  aggregate(query: AggregateQuery, options?: QueryOptions): Promise<AggregatePage>;
  /** Missing seq ranges of a device, by (boot, fromSeq). */
  gaps(query: GapQuery): Promise<Page<SeqGap, { boot: string; fromSeq: number }>>;
  /**
   * The runs of consecutive seq stored for one (device, boot) that overlap [from, to], ascending,
   * at most `limit`: what the backend confirms to the agent. Answers fast (an index lookup).
   */
  storedRuns(device: string, boot: string, from: number, to: number, limit: number): Promise<Array<[number, number]>>;
  /** Deletes what is past its retention as of `now`; stops between chunks once `signal` aborts. */
  applyRetention(now: number, options?: { signal?: AbortSignal }): Promise<RetentionResult>;
  /** Whether a write would succeed now (for readiness); must answer fast, never wait for a lock. */
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}
