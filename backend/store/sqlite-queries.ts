import type Database from 'better-sqlite3';
import {
  AGGREGATE_MAGNITUDE_LIMIT,
  type Aggregate,
  type AggregatePage,
  type AggregatePoint,
  type AggregateQuery,
  type AggregateSource,
  type Page,
  type RawPosition,
  type RawQuery,
  type StoredReading,
} from './reading-store.js';
import { cachedStatement } from './sqlite-file.js';

// The range queries, as plain functions of a connection: the query workers run them on their
// read-only connections, and the main thread runs the rollup aggregates whose rows are bounded
// (rollupRowsToRead; statements are cached per connection either way). Every statement is bounded by its LIMIT and by the index range it
// seeks, and parameters are always bound, never spliced: the only text put into SQL is the
// choice among fixed fragments below.

export interface ReadingRow {
  device: string;
  boot: string;
  seq: number;
  sensor: string;
  ts: number;
  value: number | null;
  unit: string;
  quality: StoredReading['quality'];
  clock: StoredReading['clock'];
  replay: number;
  received_at: number;
}

export const toReading = ({ replay, received_at, ...rest }: ReadingRow): StoredReading => ({
  ...rest,
  replay: replay === 1,
  receivedAt: received_at,
});

/** `aggregatable` (reading-store.ts) of the `value` column, in SQL; the rollup backfill (sqlite-schema.ts) uses it too. */
export const AGGREGATABLE_SQL = `value IS NOT NULL AND abs(value) <= ${AGGREGATE_MAGNITUDE_LIMIT}`;

export function rawRange(db: Database.Database, query: RawQuery): Page<StoredReading, RawPosition> {
  const sensorFilter = query.sensor === undefined ? '' : 'AND sensor = @sensor';
  // The plain `ts >= @from` bound lets SQLite seek; the row value then skips what the last page gave.
  const resume = query.after === undefined ? '' : 'AND (ts, sensor, boot, seq) > (@afterTs, @afterSensor, @afterBoot, @afterSeq)';
  // The view (sqlite-schema-v3.ts) names the ids: the plan seeks reading_rows by (device_id, ts)
  // and sorts only readings of the same ts by (sensor, boot, seq).
  const sql = `SELECT * FROM readings
    WHERE device = @device ${sensorFilter} AND ts >= @from AND ts < @to ${resume}
    ORDER BY ts, sensor, boot, seq LIMIT @limit`;
  const rows = cachedStatement(db, sql).all({
    device: query.device,
    sensor: query.sensor,
    from: Math.max(query.from, query.after?.ts ?? query.from),
    to: query.to,
    afterTs: query.after?.ts,
    afterSensor: query.after?.sensor,
    afterBoot: query.after?.boot,
    afterSeq: query.after?.seq,
    limit: query.limit + 1,
  }) as ReadingRow[];
  const truncated = rows.length > query.limit;
  const items = (truncated ? rows.slice(0, query.limit) : rows).map(toReading);
  const last = items[items.length - 1];
  return { items, truncated, next: truncated && last ? { ts: last.ts, sensor: last.sensor, boot: last.boot, seq: last.seq } : undefined };
}

/** SQL of each aggregate. `last` relies on SQLite's bare-column rule: with one max() in the select, the bare column comes from the row holding it. */
const AGG_SQL: Record<'raw' | 'rollup', Record<Aggregate, string>> = {
  raw: { mean: 'avg(value)', min: 'min(value)', max: 'max(value)', count: 'count(value)', last: 'value' },
  rollup: { mean: 'sum(sum_value) / sum(n)', min: 'min(min_value)', max: 'max(max_value)', count: 'sum(n)', last: 'last_value' },
};
const LAST_BY = { raw: ', max(ts)', rollup: ', max(last_ts)' };
const COUNT_SQL = { raw: 'count(value)', rollup: 'sum(n)' };

const ROLLUP_WIDTHS: ReadonlyArray<{ source: AggregateSource; width: number }> = [
  { source: 'rollup_1h', width: 3_600_000 },
  { source: 'rollup_1m', width: 60_000 },
];

/**
 * The coarsest source that answers exactly: a rollup whose width divides `every` (and the range
 * bounds, which are multiples of `every`); raw readings otherwise. This is what makes long ranges
 * cheap: a day in 1-minute buckets reads 1440 rollup rows per sensor instead of 86 400 readings.
 */
export function chooseSource(every: number): AggregateSource {
  return ROLLUP_WIDTHS.find(({ width }) => every % width === 0)?.source ?? 'raw';
}

/**
 * The most rows an aggregate may read and still run on the main thread's connection (see
 * mainThreadAggregate in sqlite-store.ts). A rollup row costs about a microsecond to read and hand
 * to JavaScript, so this holds the event loop (ingest, acks, /latest) for a few milliseconds at
 * most: a day of one-minute buckets for two sensors. Anything that may read more goes to a worker.
 */
export const MAIN_THREAD_ROLLUP_ROWS = 3_000;

/**
 * An upper bound on the rollup rows an aggregate reads: sensors × rollup rows in its widest window
 * (`limit` buckets, and never more than from..to). Infinity for raw readings, whose count per
 * bucket nothing bounds (a device may send a thousand readings a second).
 */
export function rollupRowsToRead(query: AggregateQuery, sensors: number): number {
  const source = query.source === 'raw' ? 'raw' : chooseSource(query.every);
  const width = ROLLUP_WIDTHS.find((rollup) => rollup.source === source)?.width;
  if (width === undefined) return Number.POSITIVE_INFINITY;
  const window = Math.min(query.to - query.from, query.limit * query.every);
  return sensors * Math.ceil(Math.max(0, window) / width);
}

/** sensor (null when the query names it), bucket, value, count (then, for `last` from a GROUP BY, the time that picked the value). */
type AggregateRow = [string | null, number, number, number, ...number[]];

/**
 * The FROM/WHERE of a source, with its time and sensor columns. Rollups are keyed (device, sensor,
 * bucket); over every sensor they are joined to the device's sensor list, so each sensor is one
 * index seek instead of a scan of the whole device.
 */
function fromClause(source: AggregateSource, sensor: string | undefined): { from: string; time: string; sensorColumn: string } {
  if (source === 'raw') {
    // Straight from reading_rows, naming only the sensor: a seek by (device_id, ts); one sensor is a filter on that range.
    const filter = sensor === undefined ? '' : 'AND n.name = @sensor';
    return {
      from: `reading_rows r JOIN sensor_names n ON n.id = r.sensor_id
        WHERE r.device_id = (SELECT id FROM device_names WHERE name = @device) ${filter} AND ${AGGREGATABLE_SQL}`,
      time: 'r.ts',
      sensorColumn: 'n.name',
    };
  }
  const from =
    sensor === undefined
      ? // CROSS JOIN makes SQLite loop over the sensors outside: without it, it may scan every rollup row of the device.
        `latest s CROSS JOIN ${source} r ON r.device = s.device AND r.sensor = s.sensor WHERE s.device = @device`
      : `${source} r WHERE r.device = @device AND r.sensor = @sensor`;
  return { from, time: 'r.bucket', sensorColumn: 'r.sensor' };
}

/** The first time with data at or after `start` (index seeks), so that a page is never an empty window. */
function firstDataTime(db: Database.Database, source: AggregateSource, query: AggregateQuery, start: number): number | undefined {
  const { from, time } = fromClause(source, query.sensor);
  const sql =
    source !== 'raw' && query.sensor === undefined
      ? `SELECT min((SELECT bucket FROM ${source} r WHERE r.device = s.device AND r.sensor = s.sensor AND bucket >= @start AND bucket < @to
           ORDER BY bucket LIMIT 1)) AS t FROM latest s WHERE s.device = @device`
      : `SELECT ${time} AS t FROM ${from} AND ${time} >= @start AND ${time} < @to ORDER BY ${time} LIMIT 1`;
  const row = cachedStatement(db, sql).get({ device: query.device, sensor: query.sensor, start, to: query.to }) as
    { t: number | null } | undefined;
  return row?.t ?? undefined;
}

/** A rollup row is its own bucket when `every` is the rollup's width: no regrouping, the rows come in index order. */
const ROLLUP_ROW_SQL: Record<Aggregate, string> = {
  mean: 'r.sum_value / r.n',
  min: 'r.min_value',
  max: 'r.max_value',
  count: 'r.n',
  last: 'r.last_value',
};

export function aggregate(db: Database.Database, query: AggregateQuery): AggregatePage {
  const source = query.source === 'raw' ? 'raw' : chooseSource(query.every);
  const kind = source === 'raw' ? 'raw' : 'rollup';
  const { from, time, sensorColumn } = fromClause(source, query.sensor);
  const resumeAt = query.after?.bucket ?? query.from;
  const first = firstDataTime(db, source, query, resumeAt);
  if (first === undefined) return { items: [], truncated: false, source };
  // Skip the empty stretch; a page then covers at most `limit` buckets, so its cost is bounded by that window.
  const start = Math.max(resumeAt, first - (first % query.every));
  const end = Math.min(query.to, start + query.limit * query.every);
  // Resuming inside a bucket: skip the sensors of that bucket that the last page gave.
  const resume = query.after === undefined ? '' : `AND (${time} >= @afterBucket + @every OR ${sensorColumn} > @afterSensor)`;
  const direct = source !== 'raw' && ROLLUP_WIDTHS.find((rollup) => rollup.source === source)?.width === query.every;
  // Columns: sensor, bucket, value, count (and the time of the last value, which only picks the row).
  // One named sensor: no per-row copy of its name out of SQLite (a string per row is a third of the read).
  const sensorOut = query.sensor === undefined ? 'r.sensor' : 'NULL';
  const sql = direct
    ? `SELECT ${sensorOut}, r.bucket, ${ROLLUP_ROW_SQL[query.agg]}, r.n
      FROM ${from} AND r.bucket >= @start AND r.bucket < @end ${resume}
      ORDER BY r.bucket, r.sensor LIMIT @limit`
    : `SELECT ${sensorColumn}, ${time} - ${time} % @every AS bucket, ${AGG_SQL[kind][query.agg]}, ${COUNT_SQL[kind]}${query.agg === 'last' ? LAST_BY[kind] : ''}
      FROM ${from} AND ${time} >= @start AND ${time} < @end ${resume}
      GROUP BY 2, 1 ORDER BY 2, 1 LIMIT @limit`;
  // Rows as arrays (raw mode): one object per point, the one answered, not two.
  const rows = cachedStatement(db, sql, true).all({
    device: query.device,
    sensor: query.sensor,
    every: query.every,
    start,
    end,
    afterBucket: query.after?.bucket,
    afterSensor: query.after?.sensor,
    limit: query.limit + 1,
  }) as AggregateRow[];
  const cut = rows.length > query.limit;
  const count = cut ? query.limit : rows.length;
  const items = new Array<AggregatePoint>(count);
  for (let i = 0; i < count; i++) {
    const [sensor, bucket, value, n] = rows[i] as AggregateRow;
    items[i] = { sensor: sensor ?? query.sensor ?? '', bucket, value, count: n };
  }
  const last = items[items.length - 1];
  if (cut && last) return { items, truncated: true, next: { bucket: last.bucket, sensor: last.sensor }, source };
  // The window ended before `to`: the next page starts at the window's end, with no sensor of that bucket given yet.
  if (end < query.to) return { items, truncated: true, next: { bucket: end, sensor: '' }, source };
  return { items, truncated: false, source };
}
