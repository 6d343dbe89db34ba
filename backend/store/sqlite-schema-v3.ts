import type Database from 'better-sqlite3';
import type { ClockState, Quality } from '../../contract/index.js';

// Schema version 3: the readings keyed by integers. Up to version 2 each reading was a row keyed
// by three TEXT columns (device, boot, seq) with three more TEXT-keyed indexes beside it: four
// B-tree inserts of long keys per reading, which made the write transaction most of ingest's
// cost. Now:
//   device_names, sensor_names, boot_names   one row per name, id INTEGER PRIMARY KEY
//   reading_rows PRIMARY KEY (device_id, ts, sensor_id, boot_id, seq), WITHOUT ROWID
//     the one index: a range of a device's readings in time is one seek, already in ts order
//     (raw ranges, raw aggregates, retention). One sensor's range reads the device's other
//     sensors of that time too; that is the price of keeping one index, and aggregates over a
//     minute or more come from the rollups anyway.
//   readings (a VIEW)   the readings with their names, as the table of version 2 had them: for the
//     queries that want names, readings() in seq order, and anyone with the sqlite3 shell. Rows
//     inserted into it go to reading_rows (an INSTEAD OF trigger) without touching seq ranges,
//     rollups or `latest`: a way to seed a store, not a write path.
// Duplicates are no longer refused by a primary key on (device, boot, seq): seq_ranges already
// holds, per (device, boot), the runs of seq stored, and the writer consults it (sqlite-writer.ts).

/** quality and clock are stored as small integers; these are the codes, in the writer and in SQL. */
export const QUALITY_CODE: Readonly<Record<Quality, number>> = { good: 0, uncertain: 1, bad: 2 };
export const CLOCK_CODE: Readonly<Record<ClockState, number>> = { synced: 0, unsynced: 1 };
const QUALITY_SQL = (column: string) => `CASE ${column} WHEN 0 THEN 'good' WHEN 1 THEN 'uncertain' ELSE 'bad' END`;
const CLOCK_SQL = (column: string) => `CASE ${column} WHEN 0 THEN 'synced' ELSE 'unsynced' END`;
const QUALITY_CODE_SQL = (column: string) => `CASE ${column} WHEN 'good' THEN 0 WHEN 'uncertain' THEN 1 ELSE 2 END`;
const CLOCK_CODE_SQL = (column: string) => `CASE ${column} WHEN 'synced' THEN 0 ELSE 1 END`;

const TABLES = `
CREATE TABLE IF NOT EXISTS device_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sensor_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS boot_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS reading_rows (
  device_id INTEGER NOT NULL, ts INTEGER NOT NULL, sensor_id INTEGER NOT NULL, boot_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  value REAL, unit TEXT NOT NULL, quality INTEGER NOT NULL, clock INTEGER NOT NULL, replay INTEGER NOT NULL, received_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, ts, sensor_id, boot_id, seq)
) WITHOUT ROWID;`;

const idOf = (table: string, name: string) => `(SELECT id FROM ${table} WHERE name = ${name})`;

const VIEW = `
CREATE VIEW readings AS
SELECT d.name AS device, b.name AS boot, r.seq AS seq, s.name AS sensor, r.ts AS ts, r.value AS value, r.unit AS unit,
  ${QUALITY_SQL('r.quality')} AS quality, ${CLOCK_SQL('r.clock')} AS clock, r.replay AS replay, r.received_at AS received_at
FROM reading_rows r
  JOIN device_names d ON d.id = r.device_id
  JOIN sensor_names s ON s.id = r.sensor_id
  JOIN boot_names b ON b.id = r.boot_id;
CREATE TRIGGER readings_insert INSTEAD OF INSERT ON readings BEGIN
  INSERT OR IGNORE INTO device_names (name) VALUES (NEW.device);
  INSERT OR IGNORE INTO sensor_names (name) VALUES (NEW.sensor);
  INSERT OR IGNORE INTO boot_names (name) VALUES (NEW.boot);
  INSERT OR IGNORE INTO reading_rows (device_id, ts, sensor_id, boot_id, seq, value, unit, quality, clock, replay, received_at)
  VALUES (${idOf('device_names', 'NEW.device')}, NEW.ts, ${idOf('sensor_names', 'NEW.sensor')}, ${idOf('boot_names', 'NEW.boot')}, NEW.seq,
    NEW.value, NEW.unit, ${QUALITY_CODE_SQL('NEW.quality')}, ${CLOCK_CODE_SQL('NEW.clock')}, NEW.replay, NEW.received_at);
END;`;

/** Rows of the version 2 table moved per transaction: each commit stays small, and an interrupted upgrade resumes. */
const CHUNK_ROWS = 50_000;
const OLD = 'readings_v2';

/**
 * Version 2 → 3, in place and resumable: the old table is renamed (its three indexes dropped, so
 * the moves below do not maintain them), its rows are moved to reading_rows in chunks of
 * `chunkRows` in primary key order, each chunk in its own transaction (a crash leaves both tables
 * consistent, and the next open goes on from where it stopped), then the old table gives way to
 * the view. Seq ranges, rollups, `latest` and `devices` are unchanged.
 */
export function moveReadingsToVersion3(
  db: Database.Database,
  options: { chunkRows?: number; afterChunk?: (moved: number) => void } = {},
): void {
  const chunk = options.chunkRows ?? CHUNK_ROWS;
  const renamed = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '${OLD}'`).get() !== undefined;
  if (!renamed) {
    db.transaction(() =>
      db.exec(`DROP INDEX IF EXISTS readings_by_sensor_time; DROP INDEX IF EXISTS readings_by_seq; DROP INDEX IF EXISTS readings_by_time;
        ALTER TABLE readings RENAME TO ${OLD}; ${TABLES}`),
    )();
  }
  // The primary key of the last row of the next chunk; none when fewer rows are left.
  const boundary = db.prepare(`SELECT device, boot, seq FROM ${OLD} ORDER BY device, boot, seq LIMIT 1 OFFSET ?`);
  const upTo = (bounded: boolean) => (bounded ? 'WHERE (device, boot, seq) <= (@device, @boot, @seq)' : '');
  const statements = (bounded: boolean) => [
    ...(['device', 'sensor', 'boot'] as const).map((name) =>
      db.prepare(`INSERT OR IGNORE INTO ${name}_names (name) SELECT DISTINCT ${name} FROM ${OLD} ${upTo(bounded)}`),
    ),
    db.prepare(
      `INSERT OR IGNORE INTO reading_rows (device_id, ts, sensor_id, boot_id, seq, value, unit, quality, clock, replay, received_at)
       SELECT ${idOf('device_names', 'o.device')}, o.ts, ${idOf('sensor_names', 'o.sensor')}, ${idOf('boot_names', 'o.boot')}, o.seq,
         o.value, o.unit, ${QUALITY_CODE_SQL('o.quality')}, ${CLOCK_CODE_SQL('o.clock')}, o.replay, o.received_at
       FROM ${OLD} o ${upTo(bounded).replace('WHERE (device, boot, seq)', 'WHERE (o.device, o.boot, o.seq)')}`,
    ),
    db.prepare(`DELETE FROM ${OLD} ${upTo(bounded)}`),
  ];
  const steps = { bounded: statements(true), rest: statements(false) };
  let moved = 0;
  for (let done = false; !done;) {
    db.transaction(() => {
      const last = boundary.get(chunk - 1) as { device: string; boot: string; seq: number } | undefined;
      const run = last ? steps.bounded : steps.rest;
      let deleted = 0;
      for (const statement of run) deleted = last ? statement.run(last).changes : statement.run().changes;
      moved += deleted;
      done = last === undefined;
    })();
    options.afterChunk?.(moved);
  }
  db.transaction(() => {
    db.exec(`DROP TABLE ${OLD}; ${VIEW}`);
    db.pragma('user_version = 3');
  })();
}
