// Weeks of 1 Hz history for one sensor, straight into a backend's SQLite file with its minute and
// hour rollups, as the store would have them after running that long: inserting 2.6 million
// readings through ReadingStore.insertBatches takes minutes, this takes seconds. Creates the
// schema through the store first, so the file is the store's own.
import Database from 'better-sqlite3';
import { SqliteReadingStore } from '../../backend/store/sqlite-store.js';
import { SQLITE_FILE } from '../../backend/store/sqlite-store.js';
import { join } from 'node:path';

export interface HistoryOptions {
  device: string;
  sensor: string;
  /** First reading's time, Unix ms (a whole hour keeps the rollups whole). */
  t0: number;
  seconds: number;
  /** Every this many seconds a 2-minute peak 150 °C up, so a downsampled view must keep peaks to show it. */
  peakEvery?: number;
}

/** The value at second i: a slow daily swing around 600 °C, with short peaks. */
export const HISTORY_VALUE_SQL = (peakEvery: number) =>
  `600 + 40 * sin(i / 13751.0) + 5 * sin(i / 97.0) + CASE WHEN i % ${peakEvery} < 120 THEN 150 ELSE 0 END`;

export async function seedHistory(dataDir: string, options: HistoryOptions): Promise<number> {
  await new SqliteReadingStore(dataDir).close();
  const db = new Database(join(dataDir, SQLITE_FILE));
  try {
    const params = { device: options.device, sensor: options.sensor, t0: options.t0, count: options.seconds };
    const value = HISTORY_VALUE_SQL(options.peakEvery ?? 86_400 / 2 + 7);
    db.transaction(() => {
      // better-sqlite3 binds every JS number as a REAL: cast where SQL must see integers.
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < CAST(@count AS INTEGER) - 1)
         INSERT INTO readings SELECT @device, 'history', i + 1, @sensor, CAST(@t0 AS INTEGER) + i * 1000, ${value},
           'C', 'good', 'synced', 0, CAST(@t0 AS INTEGER) + i * 1000 FROM n`,
      ).run(params);
      for (const [table, width] of [
        ['rollup_1m', 60_000],
        ['rollup_1h', 3_600_000],
      ] as const) {
        // SQLite's bare-column rule: with one max() in the select, `value` is that of the newest reading.
        db.prepare(
          `INSERT INTO ${table} (device, sensor, bucket, min_value, max_value, sum_value, n, last_ts, last_value)
           SELECT device, sensor, ts - ts % ${width} AS b, min(value), max(value), sum(value), count(value), max(ts), value
           FROM readings WHERE device = @device GROUP BY device, sensor, b`,
        ).run({ device: options.device });
      }
      const last = options.t0 + (options.seconds - 1) * 1000;
      db.prepare(
        `INSERT INTO latest SELECT device, sensor, boot, seq, ts, value, unit, quality, clock, replay, received_at
         FROM readings WHERE device = @device AND ts = CAST(@last AS INTEGER)`,
      ).run({ device: options.device, last });
      db.prepare(
        "INSERT INTO seq_ranges VALUES (@device, 'history', 1, CAST(@count AS INTEGER), CAST(@t0 AS INTEGER), CAST(@last AS INTEGER))",
      ).run({ ...params, last });
      db.prepare('INSERT INTO devices VALUES (@device, CAST(@t0 AS INTEGER), CAST(@last AS INTEGER), CAST(@count AS INTEGER))').run({
        ...params,
        last,
      });
    })();
    return options.seconds;
  } finally {
    db.close();
  }
}
