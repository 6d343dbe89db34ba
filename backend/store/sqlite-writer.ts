import type Database from 'better-sqlite3';
import { type BatchToInsert, FUTURE_STAMP_TOLERANCE_MS, type InsertResult, aggregatable } from './reading-store.js';
import { SeqRanges, runsOf } from './sqlite-seq-ranges.js';

export const ROLLUPS = [
  { table: 'rollup_1m', width: 60_000 },
  { table: 'rollup_1h', width: 3_600_000 },
] as const;

/** `trustedTime` (reading-store.ts) of a row of `table`, in SQL. */
const trustedTimeSql = (table: string) =>
  `CASE WHEN ${table}.ts > ${table}.received_at + ${FUTURE_STAMP_TOLERANCE_MS} THEN ${table}.received_at ELSE ${table}.ts END`;

/** One bucket of a rollup, summed up in memory over the whole write before it touches the table. */
interface BucketSums {
  device: string;
  sensor: string;
  bucket: number;
  min: number;
  max: number;
  sum: number;
  n: number;
  lastTs: number;
  lastValue: number;
}

/**
 * The one write path: readings, the latest-per-sensor table, device counters, rollups and seq
 * ranges, all in one transaction so they never disagree. Rollups are pre-summed per bucket, so a
 * batch of 1000 readings of one sensor costs about 17 minute upserts, not 1000.
 */
export class SqliteWriter {
  private readonly transaction: (batches: readonly BatchToInsert[]) => InsertResult;

  constructor(db: Database.Database) {
    const insert = db.prepare(
      `INSERT OR IGNORE INTO readings (device, boot, seq, sensor, ts, value, unit, quality, clock, replay, received_at)
       VALUES (@device, @boot, @seq, @sensor, @ts, @value, @unit, @quality, @clock, @replay, @receivedAt)`,
    );
    const upsertLatest = db.prepare(
      `INSERT INTO latest (device, sensor, boot, seq, ts, value, unit, quality, clock, replay, received_at)
       VALUES (@device, @sensor, @boot, @seq, @ts, @value, @unit, @quality, @clock, @replay, @receivedAt)
       ON CONFLICT (device, sensor) DO UPDATE SET boot = excluded.boot, seq = excluded.seq, ts = excluded.ts,
         value = excluded.value, unit = excluded.unit, quality = excluded.quality, clock = excluded.clock,
         replay = excluded.replay, received_at = excluded.received_at
       WHERE ${trustedTimeSql('excluded')} >= ${trustedTimeSql('latest')}`,
    );
    const touchDevice = db.prepare(
      `INSERT INTO devices (device, first_seen, last_seen, readings) VALUES (@device, @receivedAt, @receivedAt, @inserted)
       ON CONFLICT (device) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), readings = readings + excluded.readings`,
    );
    // In an upsert's SET, bare column names are the row's old values; excluded.* the new bucket's.
    const upsertRollup = ROLLUPS.map(({ table }) =>
      db.prepare(
        `INSERT INTO ${table} (device, sensor, bucket, min_value, max_value, sum_value, n, last_ts, last_value)
         VALUES (@device, @sensor, @bucket, @min, @max, @sum, @n, @lastTs, @lastValue)
         ON CONFLICT (device, sensor, bucket) DO UPDATE SET
           min_value = min(min_value, excluded.min_value), max_value = max(max_value, excluded.max_value),
           sum_value = sum_value + excluded.sum_value, n = n + excluded.n,
           last_value = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_value ELSE last_value END,
           last_ts = max(last_ts, excluded.last_ts)`,
      ),
    );
    const ranges = new SeqRanges(db);

    this.transaction = db.transaction((batches: readonly BatchToInsert[]) => {
      const result: InsertResult = { inserted: 0, duplicates: 0, gapsOpened: 0, gapsClosed: 0 };
      const sums = ROLLUPS.map(() => new Map<string, BucketSums>());
      for (const { batch, receivedAt } of batches) {
        const { device, boot } = batch;
        const stored: Array<{ seq: number; ts: number }> = [];
        for (const reading of batch.readings) {
          const row = { ...reading, device, boot, replay: reading.replay ? 1 : 0, receivedAt };
          if (insert.run(row).changes !== 1) continue;
          stored.push(reading);
          upsertLatest.run(row);
          const { value } = reading;
          // Values past the limit would overflow the sums; they are stored above, but never summed.
          if (aggregatable(value)) ROLLUPS.forEach(({ width }, i) => addToBucket(sums[i], device, reading.sensor, width, reading.ts, value));
        }
        touchDevice.run({ device, receivedAt, inserted: stored.length });
        for (const run of runsOf(stored)) {
          const change = ranges.add(device, boot, run);
          if (change > 0) result.gapsOpened += change;
          else result.gapsClosed -= change;
        }
        result.inserted += stored.length;
        result.duplicates += batch.readings.length - stored.length;
      }
      sums.forEach((buckets, i) => {
        for (const bucket of buckets.values()) upsertRollup[i]?.run(bucket);
      });
      return result;
    });
  }

  /** Commits every batch or none; throws what SQLite throws (SQLITE_BUSY, SQLITE_FULL, ...). */
  write(batches: readonly BatchToInsert[]): InsertResult {
    return this.transaction(batches);
  }
}

function addToBucket(sums: Map<string, BucketSums> | undefined, device: string, sensor: string, width: number, ts: number, value: number): void {
  const bucket = ts - (ts % width);
  const key = `${device}\u0000${sensor}\u0000${bucket}`;
  const sum = sums?.get(key);
  if (!sum) {
    sums?.set(key, { device, sensor, bucket, min: value, max: value, sum: value, n: 1, lastTs: ts, lastValue: value });
    return;
  }
  sum.min = Math.min(sum.min, value);
  sum.max = Math.max(sum.max, value);
  sum.sum += value;
  sum.n++;
  if (ts >= sum.lastTs) {
    sum.lastTs = ts;
    sum.lastValue = value;
  }
}
