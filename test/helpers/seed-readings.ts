// Many readings straight into a backend's SQLite file, far faster than through MQTT: for tests
// and benchmarks that need a big store. Rollups are not filled: range queries over the raw
// readings (every not a whole minute) see all of it.
import Database from 'better-sqlite3';

export interface SeedOptions {
  device: string;
  boot: string;
  sensors: number;
  /** One reading per sensor per second, for this many seconds from `t0`. */
  seconds: number;
  t0: number;
  /** First seq (default 1). */
  firstSeq?: number;
}

export function seedReadings(file: string, options: SeedOptions): number {
  const db = new Database(file);
  try {
    const count = options.sensors * options.seconds;
    // better-sqlite3 binds every JS number as a REAL: cast, or i / sensors would not be whole.
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < @count - 1)
       INSERT INTO readings SELECT @device, @boot, CAST(@firstSeq AS INTEGER) + i, 's' || (i % CAST(@sensors AS INTEGER)),
         CAST(@t0 AS INTEGER) + (i / CAST(@sensors AS INTEGER)) * 1000, 800 + i % 97, 'C', 'good', 'synced', 0, CAST(@t0 AS INTEGER) FROM n`,
    ).run({ ...options, count, firstSeq: options.firstSeq ?? 1 });
    db.prepare(
      `INSERT INTO devices VALUES (@device, @t0, @t0, @count) ON CONFLICT (device) DO UPDATE SET readings = readings + @count`,
    ).run({
      device: options.device,
      t0: options.t0,
      count,
    });
    return count;
  } finally {
    db.close();
  }
}
