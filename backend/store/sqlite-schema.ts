import type Database from 'better-sqlite3';
import { type Migration, migrate as applyMigrations } from './sqlite-file.js';
import { AGGREGATABLE_SQL } from './sqlite-queries.js';
import { moveReadingsToVersion3 } from './sqlite-schema-v3.js';

// The SQLite schema, versioned with PRAGMA user_version so a store written by an older
// backend is upgraded in place on open. Since version 3 the readings live in `reading_rows`,
// keyed by integers (see sqlite-schema-v3.ts); `readings` is a view of them with the names.
// Versions 1 and 2 below are kept as they were: a store is upgraded through each step in turn.
// Rollups, `latest`, `devices` and seq ranges are keyed by what they are looked up by (names),
// so they need no other index; each is written once per transaction, not per reading.

const VERSION_1 = `
CREATE TABLE IF NOT EXISTS readings (
  device TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL,
  sensor TEXT NOT NULL, ts INTEGER NOT NULL, value REAL, unit TEXT NOT NULL,
  quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL, received_at INTEGER NOT NULL,
  PRIMARY KEY (device, boot, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_sensor_time ON readings (device, sensor, ts);
CREATE INDEX IF NOT EXISTS readings_by_seq ON readings (device, seq);
CREATE TABLE IF NOT EXISTS devices (
  device TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, readings INTEGER NOT NULL
);
-- The newest reading per sensor, kept on write so that "what is it now?" never scans.
CREATE TABLE IF NOT EXISTS latest (
  device TEXT NOT NULL, sensor TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
  value REAL, unit TEXT NOT NULL, quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL,
  received_at INTEGER NOT NULL, PRIMARY KEY (device, sensor)
);`;

const rollupTable = (name: string) => `
CREATE TABLE ${name} (
  device TEXT NOT NULL, sensor TEXT NOT NULL, bucket INTEGER NOT NULL,
  min_value REAL NOT NULL, max_value REAL NOT NULL, sum_value REAL NOT NULL, n INTEGER NOT NULL,
  last_ts INTEGER NOT NULL, last_value REAL NOT NULL,
  PRIMARY KEY (device, sensor, bucket)
) WITHOUT ROWID;`;

const rollupBackfill = (name: string, width: number) => `
INSERT INTO ${name} (device, sensor, bucket, min_value, max_value, sum_value, n, last_ts, last_value)
SELECT device, sensor, ts - ts % ${width} AS b, min(value), max(value), sum(value), count(value), max(ts), value
FROM readings WHERE ${AGGREGATABLE_SQL} GROUP BY device, sensor, b;`;

// Version 2: rollups, seq ranges (gap detection) and the all-sensors time index. The backfill
// uses SQLite's documented bare-column rule: with one max() in the select, `value` comes from
// the row holding that max, i.e. the last reading of the bucket.
const VERSION_2 = `
CREATE INDEX readings_by_time ON readings (device, ts, sensor);
${rollupTable('rollup_1m')}
${rollupTable('rollup_1h')}
${rollupBackfill('rollup_1m', 60_000)}
${rollupBackfill('rollup_1h', 3_600_000)}
-- Range queries over every sensor list the sensors from here: make sure none is missing.
INSERT OR IGNORE INTO latest (device, sensor, boot, seq, ts, value, unit, quality, clock, replay, received_at)
SELECT device, sensor, boot, seq, max(ts), value, unit, quality, clock, replay, received_at FROM readings GROUP BY device, sensor;
-- Contiguous runs of stored seq per (device, boot); the holes between runs are the gaps.
CREATE TABLE seq_ranges (
  device TEXT NOT NULL, boot TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (device, boot, first_seq)
) WITHOUT ROWID;
-- Islands of consecutive seq: seq minus its rank is constant along a run.
INSERT INTO seq_ranges (device, boot, first_seq, last_seq, first_ts, last_ts)
SELECT device, boot, min(seq), max(seq), min(ts), max(ts) FROM (
  SELECT device, boot, seq, ts, seq - row_number() OVER (PARTITION BY device, boot ORDER BY seq) AS island FROM readings
) GROUP BY device, boot, island;
UPDATE seq_ranges SET
  first_ts = (SELECT ts FROM readings r WHERE r.device = seq_ranges.device AND r.boot = seq_ranges.boot AND r.seq = seq_ranges.first_seq),
  last_ts = (SELECT ts FROM readings r WHERE r.device = seq_ranges.device AND r.boot = seq_ranges.boot AND r.seq = seq_ranges.last_seq);`;

export interface MigrateOptions {
  /** Readings moved per transaction when upgrading to version 3. */
  chunkRows?: number;
  /** Stop after this version (tests make stores of an older version with it). */
  toVersion?: number;
  /** Called after each chunk of readings moved, with the rows moved so far (tests interrupt a migration with it). */
  afterChunk?: (moved: number) => void;
}

/** The steps to the current schema; version 3 moves every reading, in as many transactions as it takes. */
export function readingsMigrations(options: MigrateOptions = {}): Migration[] {
  return [VERSION_1, VERSION_2, { ownTransactions: (db) => moveReadingsToVersion3(db, options) }];
}

export const SCHEMA_VERSION = readingsMigrations().length;

/** Brings the schema to SCHEMA_VERSION (or `toVersion`), step by step. */
export function migrate(db: Database.Database, options: MigrateOptions = {}): void {
  // A store from before versioning has the version 1 tables but user_version 0; CREATE IF NOT EXISTS covers it.
  applyMigrations(db, readingsMigrations(options), options.toVersion);
}
