import type Database from 'better-sqlite3';
import type { Reading } from '../../contract/index.js';
import { type BatchToInsert, FUTURE_STAMP_TOLERANCE_MS, type InsertResult, aggregatable } from './reading-store.js';
import { NameIds } from './sqlite-names.js';
import { CLOCK_CODE, QUALITY_CODE } from './sqlite-schema-v3.js';
import { SeqRanges } from './sqlite-seq-ranges.js';
import type { SeqRangeSet, SeqRun } from './seq-range-set.js';
import { ReadingRowInserter } from './sqlite-row-inserter.js';

export const ROLLUPS = [
  { table: 'rollup_1m', width: 60_000 },
  { table: 'rollup_1h', width: 3_600_000 },
] as const;

/** `trustedTime` (reading-store.ts) of a row of `table`, in SQL. */
const trustedTimeSql = (table: string) =>
  `CASE WHEN ${table}.ts > ${table}.received_at + ${FUTURE_STAMP_TOLERANCE_MS} THEN ${table}.received_at ELSE ${table}.ts END`;

/** One bucket of a rollup, summed up in memory over the whole write before it touches the table. */
interface BucketSums {
  bucket: number;
  min: number;
  max: number;
  sum: number;
  n: number;
  lastTs: number;
  lastValue: number;
}

/** What one transaction stored of one sensor: its newest reading and its rollup buckets. */
interface SensorWrite {
  name: string;
  latest?: { reading: Reading; boot: string; receivedAt: number; trusted: number } | undefined;
  buckets: Array<Map<number, BucketSums>>;
}

/** What one transaction stored of one device. */
interface DeviceWrite {
  name: string;
  firstReceivedAt: number;
  lastReceivedAt: number;
  inserted: number;
  sensors: Map<number, SensorWrite>;
}

/**
 * The one write path: readings, the latest-per-sensor table, device counters, rollups and seq
 * ranges, all in one transaction so they never disagree. Per reading it costs one row of a
 * multi-row INSERT and some arithmetic in memory; the rest is done once per transaction: dedup
 * and gaps per (device, boot) from its seq ranges (seq-range-set.ts), `latest` per sensor,
 * counters per device, rollups per bucket (a batch of 1000 readings of one sensor costs about 17
 * minute upserts, not 1000).
 */
export class SqliteWriter {
  private readonly transaction: (batches: readonly BatchToInsert[]) => InsertResult;
  private readonly names: { device: NameIds; sensor: NameIds; boot: NameIds };
  private readonly statements: WriterStatements;
  private readonly ranges: SeqRanges;
  private readonly rows: ReadingRowInserter;

  constructor(db: Database.Database) {
    this.statements = prepareStatements(db);
    this.ranges = new SeqRanges(db);
    this.rows = new ReadingRowInserter(db);
    this.names = { device: new NameIds(db, 'device_names'), sensor: new NameIds(db, 'sensor_names'), boot: new NameIds(db, 'boot_names') };
    this.transaction = db.transaction((batches: readonly BatchToInsert[]) => this.insertAll(batches));
  }

  /** The body of one transaction: the rows, the seq ranges, then each device's summaries. */
  private insertAll(batches: readonly BatchToInsert[]): InsertResult {
    const result: InsertResult = { inserted: 0, duplicates: 0, gapsOpened: 0, gapsClosed: 0 };
    const devices = devicesOf(batches);
    for (const group of groupByDeviceAndBoot(batches).values()) {
      const write = devices.get(group.device);
      if (!write) continue; // every device of `batches` is there
      this.insertGroup(group, write, result);
    }
    this.rows.flush();
    for (const write of devices.values()) this.writeSummaries(write);
    return result;
  }

  /** The readings of one (device, boot) not stored yet, and the seq ranges they fill. */
  private insertGroup(group: Group, write: DeviceWrite, result: InsertResult): void {
    const { device, boot } = group;
    const { names, rows } = this;
    const deviceId = names.device.id(device);
    const bootId = names.boot.id(boot);
    const set = this.ranges.near(device, boot, group.minSeq, group.maxSeq);
    for (const { batch, receivedAt } of group.items) {
      const stored = storeNew(batch.readings, set, (reading) => {
        const sensorId = names.sensor.id(reading.sensor);
        rows.add(
          deviceId,
          reading.ts,
          sensorId,
          bootId,
          reading.seq,
          reading.value,
          reading.unit,
          QUALITY_CODE[reading.quality],
          CLOCK_CODE[reading.clock],
          reading.replay ? 1 : 0,
          receivedAt,
        );
        noteSensor(write, sensorId, reading, boot, receivedAt);
      });
      for (const run of stored.runs) {
        const change = set.add(run);
        if (change > 0) result.gapsOpened += change;
        else result.gapsClosed -= change;
      }
      write.inserted += stored.count;
      result.inserted += stored.count;
      result.duplicates += batch.readings.length - stored.count;
    }
    this.ranges.save(device, boot, set);
  }

  /** A device's counters, and per sensor its latest reading and rollup buckets. */
  private writeSummaries(write: DeviceWrite): void {
    const { touchDevice, upsertLatest, upsertRollup } = this.statements;
    touchDevice.run(write.name, write.firstReceivedAt, write.lastReceivedAt, write.inserted);
    for (const sensor of write.sensors.values()) {
      const newest = sensor.latest;
      if (newest) {
        const { reading: r, boot, receivedAt } = newest;
        upsertLatest.run(write.name, sensor.name, boot, r.seq, r.ts, r.value, r.unit, r.quality, r.clock, r.replay ? 1 : 0, receivedAt);
      }
      sensor.buckets.forEach((buckets, i) => {
        for (const b of buckets.values())
          upsertRollup[i]?.run(write.name, sensor.name, b.bucket, b.min, b.max, b.sum, b.n, b.lastTs, b.lastValue);
      });
    }
  }

  /** Commits every batch or none; throws what SQLite throws (SQLITE_BUSY, SQLITE_FULL, ...). */
  write(batches: readonly BatchToInsert[]): InsertResult {
    const all = [this.names.device, this.names.sensor, this.names.boot];
    try {
      const result = this.transaction(batches);
      for (const names of all) names.committed();
      return result;
    } catch (error) {
      for (const names of all) names.rolledBack();
      throw error;
    }
  }
}

interface WriterStatements {
  upsertLatest: Database.Statement;
  touchDevice: Database.Statement;
  upsertRollup: Database.Statement[];
}

function prepareStatements(db: Database.Database): WriterStatements {
  const upsertLatest = db.prepare(
    `INSERT INTO latest (device, sensor, boot, seq, ts, value, unit, quality, clock, replay, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (device, sensor) DO UPDATE SET boot = excluded.boot, seq = excluded.seq, ts = excluded.ts,
       value = excluded.value, unit = excluded.unit, quality = excluded.quality, clock = excluded.clock,
       replay = excluded.replay, received_at = excluded.received_at
     WHERE ${trustedTimeSql('excluded')} >= ${trustedTimeSql('latest')}`,
  );
  const touchDevice = db.prepare(
    `INSERT INTO devices (device, first_seen, last_seen, readings) VALUES (?, ?, ?, ?)
     ON CONFLICT (device) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), readings = readings + excluded.readings`,
  );
  // In an upsert's SET, bare column names are the row's old values; excluded.* the new bucket's.
  const upsertRollup = ROLLUPS.map(({ table }) =>
    db.prepare(
      `INSERT INTO ${table} (device, sensor, bucket, min_value, max_value, sum_value, n, last_ts, last_value)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device, sensor, bucket) DO UPDATE SET
         min_value = min(min_value, excluded.min_value), max_value = max(max_value, excluded.max_value),
         sum_value = sum_value + excluded.sum_value, n = n + excluded.n,
         last_value = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_value ELSE last_value END,
         last_ts = max(last_ts, excluded.last_ts)`,
    ),
  );
  return { upsertLatest, touchDevice, upsertRollup };
}

/** One write per device of `batches`, with the span of its receive times. */
function devicesOf(batches: readonly BatchToInsert[]): Map<string, DeviceWrite> {
  const devices = new Map<string, DeviceWrite>();
  for (const { batch, receivedAt } of batches) {
    const write = devices.get(batch.device);
    if (!write)
      devices.set(batch.device, {
        name: batch.device,
        firstReceivedAt: receivedAt,
        lastReceivedAt: receivedAt,
        inserted: 0,
        sensors: new Map(),
      });
    else write.lastReceivedAt = Math.max(write.lastReceivedAt, receivedAt);
  }
  return devices;
}

interface Group {
  device: string;
  boot: string;
  items: BatchToInsert[];
  minSeq: number;
  maxSeq: number;
}

/** The batches of each (device, boot), in arrival order, with the seq span they cover (seq strictly increase within a batch). */
function groupByDeviceAndBoot(batches: readonly BatchToInsert[]): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const item of batches) {
    const { device, boot, readings } = item.batch;
    const first = readings[0]?.seq;
    const last = readings[readings.length - 1]?.seq;
    if (first === undefined || last === undefined) continue;
    const key = `${device}\u0000${boot}`;
    const group = groups.get(key);
    if (!group) groups.set(key, { device, boot, items: [item], minSeq: first, maxSeq: last });
    else {
      group.items.push(item);
      group.minSeq = Math.min(group.minSeq, first);
      group.maxSeq = Math.max(group.maxSeq, last);
    }
  }
  return groups;
}

/** Hands each reading not stored yet to `store`, and returns the runs of consecutive seq they make. */
function storeNew(readings: readonly Reading[], set: SeqRangeSet, store: (reading: Reading) => void): { count: number; runs: SeqRun[] } {
  const runs: SeqRun[] = [];
  let run: SeqRun | undefined;
  let count = 0;
  for (const reading of readings) {
    const { seq, ts } = reading;
    if (set.covers(seq)) continue;
    store(reading);
    count++;
    if (run && seq === run.last + 1) {
      run.last = seq;
      run.lastTs = ts;
    } else runs.push((run = { first: seq, last: seq, firstTs: ts, lastTs: ts }));
  }
  return { count, runs };
}

/** Folds a stored reading into its sensor's newest reading and rollup buckets. */
function noteSensor(write: DeviceWrite, sensorId: number, reading: Reading, boot: string, receivedAt: number): void {
  let sensor = write.sensors.get(sensorId);
  if (!sensor) write.sensors.set(sensorId, (sensor = { name: reading.sensor, buckets: ROLLUPS.map(() => new Map<number, BucketSums>()) }));
  // Newest by trusted time; on a tie the later one wins, as it did when `latest` was upserted per reading.
  const trusted = reading.ts > receivedAt + FUTURE_STAMP_TOLERANCE_MS ? receivedAt : reading.ts; // trustedTime, without an object per reading
  if (!sensor.latest || trusted >= sensor.latest.trusted) sensor.latest = { reading, boot, receivedAt, trusted };
  const { value, ts } = reading;
  // Values past the limit would overflow the sums; they are stored, but never summed.
  if (!aggregatable(value)) return;
  for (let i = 0; i < ROLLUPS.length; i++) {
    const width = ROLLUPS[i]?.width ?? 1;
    const buckets = sensor.buckets[i];
    if (!buckets) continue;
    const bucket = ts - (ts % width);
    const sum = buckets.get(bucket);
    if (!sum) {
      buckets.set(bucket, { bucket, min: value, max: value, sum: value, n: 1, lastTs: ts, lastValue: value });
      continue;
    }
    if (value < sum.min) sum.min = value;
    if (value > sum.max) sum.max = value;
    sum.sum += value;
    sum.n++;
    if (ts >= sum.lastTs) {
      sum.lastTs = ts;
      sum.lastValue = value;
    }
  }
}
