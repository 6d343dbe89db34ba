import {
  AGGREGATE_MAGNITUDE_LIMIT,
  type Aggregate,
  type AggregatePage,
  type AggregatePoint,
  type AggregateQuery,
  type Page,
  type RawPosition,
  type RawQuery,
  type StoredReading,
} from '../reading-store.js';
import { type InfluxSeries, influxString } from './influx-http.js';
import { MEASUREMENT } from './line-protocol.js';

// The read side in InfluxQL, which InfluxDB 1.x answers natively and 2.x, 3.x and Cloud through
// their v1 compatibility API (/query), so one path serves all. Times come back as ms (epoch=ms),
// which truncates the point time to the reading's ts (line-protocol.ts). Every query names its
// device (a tag) and a time range, so InfluxDB reads only those series and shards.

export type RunQuery = (q: string) => Promise<InfluxSeries[]>;

const READING_COLUMNS = ['value', 'seq', 'unit', 'quality', 'clock', 'replay', 'receivedAt', 'boot', 'sensor', 'device'] as const;
const SELECT_READING = `SELECT ${READING_COLUMNS.map((c) => `"${c}"`).join(', ')} FROM "${MEASUREMENT}"`;
/** `aggregatable` (reading-store.ts) in InfluxQL; a point without a value field never matches. */
const AGGREGATABLE = `"value" >= -${AGGREGATE_MAGNITUDE_LIMIT} AND "value" <= ${AGGREGATE_MAGNITUDE_LIMIT}`;
const AGG_FUNCTION: Record<Aggregate, string> = { mean: 'mean', min: 'min', max: 'max', last: 'last', count: 'count' };

function where(device: string, sensor: string | undefined, from: number, to: number): string {
  const bySensor = sensor === undefined ? '' : ` AND "sensor" = ${influxString(sensor)}`;
  return `WHERE "device" = ${influxString(device)}${bySensor} AND time >= ${from}ms AND time < ${to}ms`;
}

/** Rows of InfluxQL series as readings; columns are found by name, whatever their order. */
export function toReadings(series: readonly InfluxSeries[]): StoredReading[] {
  const readings: StoredReading[] = [];
  for (const one of series) {
    const at = (name: string) => one.columns.indexOf(name);
    const [time, value, seq, unit, quality, clock, replay, receivedAt, boot, sensor, device] = ['time', ...READING_COLUMNS].map(at);
    for (const row of one.values) {
      const cell = (index: number | undefined) => (index === undefined || index < 0 ? undefined : row[index]);
      const text = (index: number | undefined, fallback = '') => {
        const value = cell(index);
        return typeof value === 'string' ? value : fallback;
      };
      readings.push({
        device: text(device, one.tags?.device),
        boot: text(boot, one.tags?.boot),
        sensor: text(sensor, one.tags?.sensor),
        seq: Number(cell(seq)),
        ts: Number(cell(time)),
        value: typeof cell(value) === 'number' ? (cell(value) as number) : null,
        unit: text(unit),
        quality: text(quality) as StoredReading['quality'],
        clock: text(clock) as StoredReading['clock'],
        replay: cell(replay) === true,
        receivedAt: Number(cell(receivedAt)),
      });
    }
  }
  return readings;
}

/** The raw order: (ts, sensor, boot, seq). */
export function compareRaw(a: RawPosition, b: RawPosition): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  if (a.sensor !== b.sensor) return a.sensor < b.sensor ? -1 : 1;
  if (a.boot !== b.boot) return a.boot < b.boot ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * Raw readings in [from, to), paged. InfluxDB orders by time only, so rows that share a ms are
 * sorted here; a LIMIT that cuts through a ms would give an arbitrary part of it, so the ms at the
 * cut is fetched whole, as is the ms a cursor resumes in.
 */
export async function rawRange(run: RunQuery, query: RawQuery): Promise<Page<StoredReading, RawPosition>> {
  const { device, sensor, to, after } = query;
  const rows: StoredReading[] = [];
  let start = query.from;
  if (after !== undefined && after.ts >= query.from) {
    const sameMs = toReadings(await run(`${SELECT_READING} ${where(device, sensor, after.ts, Math.min(after.ts + 1, to))}`));
    rows.push(...sameMs.filter((row) => compareRaw(row, after) > 0));
    start = after.ts + 1;
  }
  if (start < to && rows.length <= query.limit) {
    const main = toReadings(await run(`${SELECT_READING} ${where(device, sensor, start, to)} LIMIT ${query.limit + 1}`));
    const last = main[main.length - 1];
    if (main.length > query.limit && last) {
      rows.push(...main.filter((row) => row.ts !== last.ts));
      rows.push(...toReadings(await run(`${SELECT_READING} ${where(device, sensor, last.ts, last.ts + 1)}`)));
    } else {
      rows.push(...main);
    }
  }
  rows.sort(compareRaw);
  const truncated = rows.length > query.limit;
  const items = truncated ? rows.slice(0, query.limit) : rows;
  const end = items[items.length - 1];
  return { items, truncated, next: truncated && end ? { ts: end.ts, sensor: end.sensor, boot: end.boot, seq: end.seq } : undefined };
}

/** The first ms with an aggregatable value at or after `start`, if any. */
async function firstDataTime(run: RunQuery, query: AggregateQuery, start: number): Promise<number | undefined> {
  const series = await run(
    `SELECT first("value") FROM "${MEASUREMENT}" ${where(query.device, query.sensor, start, query.to)} AND ${AGGREGATABLE}`,
  );
  const time = series[0]?.values[0]?.[0];
  return typeof time === 'number' ? time : undefined;
}

/**
 * Buckets in [from, to) with GROUP BY time(every), sensor. As in the SQLite store, a page skips
 * the empty stretch before the first value and covers at most `limit` buckets, so its cost is
 * bounded; the next page resumes where that window ended.
 */
export async function aggregate(run: RunQuery, query: AggregateQuery): Promise<AggregatePage> {
  const resumeAt = query.after?.bucket ?? query.from;
  const first = await firstDataTime(run, query, resumeAt);
  if (first === undefined) return { items: [], truncated: false, source: 'raw' };
  const start = Math.max(resumeAt, first - (first % query.every));
  const end = Math.min(query.to, start + query.limit * query.every);
  const fn = AGG_FUNCTION[query.agg];
  const series = await run(
    `SELECT ${fn}("value") AS "v", count("value") AS "n" FROM "${MEASUREMENT}" ${where(query.device, query.sensor, start, end)} AND ${AGGREGATABLE} ` +
      `GROUP BY time(${query.every}ms), "sensor" fill(none)`,
  );
  const after = query.after;
  const points: AggregatePoint[] = [];
  for (const one of series) {
    const sensor = one.tags?.sensor ?? '';
    for (const [bucket, v, n] of one.values) {
      if (typeof bucket !== 'number' || typeof v !== 'number' || typeof n !== 'number' || n === 0) continue;
      if (after && bucket === after.bucket && sensor <= after.sensor) continue;
      points.push({ sensor, bucket, value: v, count: n });
    }
  }
  points.sort((a, b) => a.bucket - b.bucket || (a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : 0));
  const cut = points.length > query.limit;
  const items = cut ? points.slice(0, query.limit) : points;
  const last = items[items.length - 1];
  if (cut && last) return { items, truncated: true, next: { bucket: last.bucket, sensor: last.sensor }, source: 'raw' };
  if (end < query.to) return { items, truncated: true, next: { bucket: end, sensor: '' }, source: 'raw' };
  return { items, truncated: false, source: 'raw' };
}

/** Every reading of a device in (seq, boot) order, at most `limit`: for tests and small devices; it reads the whole device. */
export async function readingsBySeq(run: RunQuery, device: string, limit: number): Promise<StoredReading[]> {
  const rows = toReadings(await run(`${SELECT_READING} WHERE "device" = ${influxString(device)}`));
  rows.sort((a, b) => a.seq - b.seq || (a.boot < b.boot ? -1 : a.boot > b.boot ? 1 : 0));
  return rows.slice(0, limit);
}
