import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ReadingBatch } from '../../contract/index.js';
import { BackendError } from '../errors.js';
import type { DeviceSummary, InsertResult, ReadingStore, StoredReading } from './reading-store.js';

const SCHEMA = `
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

interface Row {
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

const toReading = ({ replay, received_at, ...rest }: Row): StoredReading => ({
  ...rest,
  replay: replay === 1,
  receivedAt: received_at,
});

/** The embedded store: one SQLite file in WAL mode, zero set-up, right on a Pi too. */
export class SqliteReadingStore implements ReadingStore {
  private readonly db: Database.Database;
  private readonly insertBatchTx: (batch: ReadingBatch, receivedAt: number) => InsertResult;

  constructor(dataDir: string) {
    try {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(join(dataDir, 'readings.sqlite'));
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a crash of the process loses nothing committed; a power cut may lose the last moments,
      // which the agents still hold in their outboxes until acknowledged.
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SCHEMA);
    } catch (error) {
      throw new BackendError('BACKEND_STORE_OPEN_FAILED', `cannot open the SQLite store in ${dataDir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO readings (device, boot, seq, sensor, ts, value, unit, quality, clock, replay, received_at)
       VALUES (@device, @boot, @seq, @sensor, @ts, @value, @unit, @quality, @clock, @replay, @receivedAt)`,
    );
    const upsertLatest = this.db.prepare(
      `INSERT INTO latest (device, sensor, boot, seq, ts, value, unit, quality, clock, replay, received_at)
       VALUES (@device, @sensor, @boot, @seq, @ts, @value, @unit, @quality, @clock, @replay, @receivedAt)
       ON CONFLICT (device, sensor) DO UPDATE SET boot = excluded.boot, seq = excluded.seq, ts = excluded.ts,
         value = excluded.value, unit = excluded.unit, quality = excluded.quality, clock = excluded.clock,
         replay = excluded.replay, received_at = excluded.received_at
       WHERE excluded.ts >= latest.ts`,
    );
    const touchDevice = this.db.prepare(
      `INSERT INTO devices (device, first_seen, last_seen, readings) VALUES (@device, @receivedAt, @receivedAt, @inserted)
       ON CONFLICT (device) DO UPDATE SET last_seen = excluded.last_seen, readings = readings + excluded.readings`,
    );
    this.insertBatchTx = this.db.transaction((batch: ReadingBatch, receivedAt: number) => {
      let inserted = 0;
      for (const reading of batch.readings) {
        const row = { ...reading, device: batch.device, boot: batch.boot, replay: reading.replay ? 1 : 0, receivedAt };
        if (insert.run(row).changes === 1) {
          inserted++;
          upsertLatest.run(row);
        }
      }
      touchDevice.run({ device: batch.device, receivedAt, inserted });
      return { inserted, duplicates: batch.readings.length - inserted };
    });
  }

  insertBatch(batch: ReadingBatch, receivedAt: number): Promise<InsertResult> {
    return Promise.resolve(this.insertBatchTx(batch, receivedAt));
  }

  listDevices(): Promise<DeviceSummary[]> {
    const rows = this.db
      .prepare('SELECT device, first_seen AS firstSeen, last_seen AS lastSeen, readings FROM devices ORDER BY device')
      .all() as DeviceSummary[];
    return Promise.resolve(rows);
  }

  latest(device: string): Promise<StoredReading[]> {
    const rows = this.db.prepare('SELECT * FROM latest WHERE device = ? ORDER BY sensor').all(device) as Row[];
    return Promise.resolve(rows.map(toReading));
  }

  readings(device: string, options: { limit?: number } = {}): Promise<StoredReading[]> {
    const rows = this.db
      .prepare('SELECT * FROM readings WHERE device = ? ORDER BY seq LIMIT ?')
      .all(device, options.limit ?? 10_000) as Row[];
    return Promise.resolve(rows.map(toReading));
  }

  writable(): Promise<boolean> {
    try {
      // BEGIN IMMEDIATE takes the write lock: it fails if the file is read-only or locked.
      this.db.exec('BEGIN IMMEDIATE; ROLLBACK;');
      return Promise.resolve(true);
    } catch {
      return Promise.resolve(false);
    }
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
