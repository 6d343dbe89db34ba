import type Database from 'better-sqlite3';
import type { Reading } from '../../../contract/index.js';
import { BackendError } from '../../errors.js';
import {
  type BatchToInsert,
  type DeviceSummary,
  FUTURE_STAMP_TOLERANCE_MS,
  type InsertResult,
  type StoredReading,
} from '../reading-store.js';
import { runsOf } from '../seq-range-set.js';
import { cachedStatement, openSqliteIn } from '../sqlite-file.js';
import { SeqRanges } from '../sqlite-seq-ranges.js';

// What the InfluxDB store keeps beside InfluxDB, in an embedded SQLite file (dataDir/influx-index.sqlite):
// - seq_ranges: the runs of seq stored per (device, boot), the same table and code as the SQLite
//   store (sqlite-seq-ranges.ts). It answers dedup ("is (device, boot, seq) stored?"), gaps and the
//   runs confirmed to agents with an index lookup, where InfluxQL could not (seq is a field, and
//   InfluxQL has neither window functions nor a seek on fields).
// - latest: the newest reading per sensor by trusted time (reading-store.ts trustedTime), which
//   depends on receivedAt as well as ts: InfluxQL's last() only knows the point time.
// - devices: first and last batch time and the count of readings stored.
// Rows are written only after InfluxDB took the points, in one transaction; a crash in between
// makes the agent send those readings again, and InfluxDB overwrites them with themselves.

export const INDEX_FILE = 'influx-index.sqlite';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS seq_ranges (
  device TEXT NOT NULL, boot TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (device, boot, first_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
  device TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, readings INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS latest (
  device TEXT NOT NULL, sensor TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
  value REAL, unit TEXT NOT NULL, quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL,
  received_at INTEGER NOT NULL, PRIMARY KEY (device, sensor)
);`;

const trustedTimeSql = (table: string) =>
  `CASE WHEN ${table}.ts > ${table}.received_at + ${FUTURE_STAMP_TOLERANCE_MS} THEN ${table}.received_at ELSE ${table}.ts END`;

/** A reading of a batch that is not stored yet, with what the write needs. */
export interface NewReading {
  device: string;
  boot: string;
  receivedAt: number;
  reading: Reading;
}

interface LatestRow extends Omit<StoredReading, 'replay' | 'receivedAt'> {
  replay: number;
  received_at: number;
}

export class InfluxIndex {
  readonly ranges: SeqRanges;
  private readonly db: Database.Database;
  private readonly covering: Database.Statement;
  private readonly upsertLatest: Database.Statement;
  private readonly touchDevice: Database.Statement;

  constructor(dataDir: string) {
    try {
      // Durability full, as the SQLite store: what is recorded here is confirmed to agents, which then forget it.
      this.db = openSqliteIn(dataDir, INDEX_FILE, { durability: 'full', migrations: [SCHEMA] });
    } catch (error) {
      throw new BackendError(
        'BACKEND_STORE_OPEN_FAILED',
        `cannot open the InfluxDB store's index in ${dataDir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.ranges = new SeqRanges(this.db);
    this.covering = this.db.prepare(
      'SELECT last_seq FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1',
    );
    this.upsertLatest = this.db.prepare(
      `INSERT INTO latest (device, sensor, boot, seq, ts, value, unit, quality, clock, replay, received_at)
       VALUES (@device, @sensor, @boot, @seq, @ts, @value, @unit, @quality, @clock, @replay, @receivedAt)
       ON CONFLICT (device, sensor) DO UPDATE SET boot = excluded.boot, seq = excluded.seq, ts = excluded.ts,
         value = excluded.value, unit = excluded.unit, quality = excluded.quality, clock = excluded.clock,
         replay = excluded.replay, received_at = excluded.received_at
       WHERE ${trustedTimeSql('excluded')} >= ${trustedTimeSql('latest')}`,
    );
    this.touchDevice = this.db.prepare(
      `INSERT INTO devices (device, first_seen, last_seen, readings) VALUES (@device, @receivedAt, @receivedAt, @inserted)
       ON CONFLICT (device) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), readings = readings + excluded.readings`,
    );
  }

  get open(): boolean {
    return this.db.open;
  }

  /** The readings of these batches that are not stored yet (nor twice within them), and how many are duplicates. */
  newReadings(batches: readonly BatchToInsert[]): { fresh: NewReading[]; duplicates: number } {
    const seen = new Set<string>();
    const fresh: NewReading[] = [];
    let duplicates = 0;
    for (const { batch, receivedAt } of batches) {
      for (const reading of batch.readings) {
        const key = `${batch.device}\u0000${batch.boot}\u0000${reading.seq}`;
        const covered = this.covering.get(batch.device, batch.boot, reading.seq) as { last_seq: number } | undefined;
        if (seen.has(key) || (covered !== undefined && covered.last_seq >= reading.seq)) {
          duplicates++;
          continue;
        }
        seen.add(key);
        fresh.push({ device: batch.device, boot: batch.boot, receivedAt, reading });
      }
    }
    return { fresh, duplicates };
  }

  /**
   * Records readings InfluxDB now holds, and those it refused for good (`dropped`): both are done
   * with, so both go into the seq ranges and are confirmed to the agent; only the stored count.
   */
  record(
    batches: readonly BatchToInsert[],
    stored: readonly NewReading[],
    dropped: readonly NewReading[],
    duplicates: number,
  ): InsertResult {
    const result: InsertResult = { inserted: stored.length, duplicates, gapsOpened: 0, gapsClosed: 0 };
    this.db.transaction(() => {
      const perDevice = new Map<string, { receivedAt: number; inserted: number }>();
      for (const { batch, receivedAt } of batches) {
        const entry = perDevice.get(batch.device) ?? { receivedAt, inserted: 0 };
        entry.receivedAt = Math.max(entry.receivedAt, receivedAt);
        perDevice.set(batch.device, entry);
        // first_seen is the earliest batch: touch each batch's time in order.
        this.touchDevice.run({ device: batch.device, receivedAt, inserted: 0 });
      }
      for (const item of stored) {
        const { reading } = item;
        this.upsertLatest.run({
          ...reading,
          device: item.device,
          boot: item.boot,
          replay: reading.replay ? 1 : 0,
          receivedAt: item.receivedAt,
        });
        const entry = perDevice.get(item.device);
        if (entry) entry.inserted++;
      }
      for (const [device, { receivedAt, inserted }] of perDevice) this.touchDevice.run({ device, receivedAt, inserted });
      const byBoot = new Map<string, { device: string; boot: string; readings: Reading[] }>();
      for (const item of [...stored, ...dropped]) {
        const key = `${item.device}\u0000${item.boot}`;
        const group = byBoot.get(key) ?? { device: item.device, boot: item.boot, readings: [] };
        group.readings.push(item.reading);
        byBoot.set(key, group);
      }
      for (const { device, boot, readings } of byBoot.values()) {
        const runs = runsOf([...readings].sort((a, b) => a.seq - b.seq));
        const set = this.ranges.near(device, boot, runs[0]?.first ?? 0, runs[runs.length - 1]?.last ?? 0);
        for (const run of runs) {
          const change = set.add(run);
          if (change > 0) result.gapsOpened += change;
          else result.gapsClosed -= change;
        }
        this.ranges.save(device, boot, set);
      }
    })();
    return result;
  }

  listDevices(): DeviceSummary[] {
    return cachedStatement(
      this.db,
      'SELECT device, first_seen AS firstSeen, last_seen AS lastSeen, readings FROM devices ORDER BY device',
    ).all() as DeviceSummary[];
  }

  device(device: string): DeviceSummary | undefined {
    return cachedStatement(
      this.db,
      'SELECT device, first_seen AS firstSeen, last_seen AS lastSeen, readings FROM devices WHERE device = ?',
    ).get(device) as DeviceSummary | undefined;
  }

  latest(device: string): StoredReading[] {
    const rows = cachedStatement(this.db, 'SELECT * FROM latest WHERE device = ? ORDER BY sensor').all(device) as LatestRow[];
    return rows.map(({ replay, received_at, ...rest }) => ({ ...rest, replay: replay === 1, receivedAt: received_at }));
  }

  /** Sensors of a device, for queries that list each one. */
  sensors(device: string): string[] {
    return (
      cachedStatement(this.db, 'SELECT sensor FROM latest WHERE device = ? ORDER BY sensor').all(device) as Array<{ sensor: string }>
    ).map((r) => r.sensor);
  }

  /** Whether the file takes a write now, without waiting for a lock. */
  writable(): string | undefined {
    try {
      this.db.exec('BEGIN IMMEDIATE; ROLLBACK;');
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
