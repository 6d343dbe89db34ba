import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allBuckets, allRaw } from '../../test/helpers/reading-store-fixtures.js';
import type { Reading } from '../../contract/index.js';
import { AGGREGATES, type ReadingStore } from './reading-store.js';
import { SCHEMA_VERSION, migrate } from './sqlite-schema.js';
import { SQLITE_FILE, SqliteReadingStore } from './sqlite-store.js';

const T0 = 1_764_338_400_000;
const HOUR = 3_600_000;

interface OldRow {
  device: string;
  boot: string;
  seq: number;
  sensor: string;
  ts: number;
  value: number | null;
  unit: string;
  quality: string;
  clock: string;
  replay: number;
  received_at: number;
}

/**
 * Readings of two devices, two boots, two sensors over three hours, with holes in the seq, bad
 * readings, a value past the aggregate limit, unsynced clocks and replays. Values are multiples
 * of 0.5, so every sum is exact whichever order it is added in. Received in batches of 10.
 */
function oldRows(): OldRow[] {
  const rows: OldRow[] = [];
  for (const device of ['furnace-1', 'annealer']) {
    for (const [b, boot] of ['01JBOOTA', '01JBOOTB'].entries()) {
      for (let seq = 1; seq <= 600; seq++) {
        if (seq % 97 === 0 || (seq > 300 && seq < 305)) continue; // holes: gaps to report
        const ts = T0 + b * 2 * HOUR + seq * 10_000 + (device === 'annealer' ? 3 : 0);
        const bad = seq % 50 === 7;
        rows.push({
          device,
          boot,
          seq,
          sensor: seq % 3 === 0 ? 'tc2' : 'tc1',
          ts,
          value: bad ? null : seq === 555 ? 1.7e308 : 800 + (seq % 41) * 0.5,
          unit: 'C',
          quality: bad ? 'bad' : seq % 13 === 0 ? 'uncertain' : 'good',
          clock: seq % 17 === 0 ? 'unsynced' : 'synced',
          replay: seq % 19 === 0 ? 1 : 0,
          received_at: T0 + b * 2 * HOUR + Math.ceil(seq / 10) * 100_000,
        });
      }
    }
  }
  return rows;
}

/** A version 2 store, made with the DDL of versions 1 and 2 and filled as the old backend filled it. */
function writeVersion2Store(file: string, rows: OldRow[]): void {
  const db = new Database(file);
  migrate(db, { toVersion: 1 });
  const insert = db.prepare(
    `INSERT INTO readings VALUES (@device, @boot, @seq, @sensor, @ts, @value, @unit, @quality, @clock, @replay, @received_at)`,
  );
  const device = db.prepare(
    `INSERT INTO devices VALUES (?, ?, ?, 1) ON CONFLICT (device) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), readings = readings + 1`,
  );
  db.transaction(() => {
    for (const row of rows) {
      insert.run(row);
      device.run(row.device, row.received_at, row.received_at);
    }
  })();
  migrate(db, { toVersion: 2 }); // the rollups, latest and seq ranges, as version 2 made them
  expect(db.pragma('user_version', { simple: true })).toBe(2);
  db.close();
}

/** Every table a version 2 store has, as rows. */
function snapshot(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all();
    return {
      readings: all('SELECT * FROM readings ORDER BY device, boot, seq'),
      rollup_1m: all('SELECT * FROM rollup_1m ORDER BY device, sensor, bucket'),
      rollup_1h: all('SELECT * FROM rollup_1h ORDER BY device, sensor, bucket'),
      seq_ranges: all('SELECT * FROM seq_ranges ORDER BY device, boot, first_seq'),
      latest: all('SELECT * FROM latest ORDER BY device, sensor'),
      devices: all('SELECT * FROM devices ORDER BY device'),
    };
  } finally {
    db.close();
  }
}

/** The answers of the store's API to everything it can be asked about these readings. */
async function answers(store: ReadingStore) {
  const result: Record<string, unknown> = { devices: await store.listDevices() };
  for (const device of ['furnace-1', 'annealer']) {
    result[`${device} latest`] = await store.latest(device);
    result[`${device} readings`] = await store.readings(device);
    result[`${device} gaps`] = await store.gaps({ device, limit: 100 });
    for (const boot of ['01JBOOTA', '01JBOOTB']) result[`${device} ${boot} runs`] = await store.storedRuns(device, boot, 1, 1000, 100);
    for (const sensor of [undefined, 'tc2']) {
      result[`${device} ${sensor} raw`] = await allRaw(store, { device, sensor, from: T0, to: T0 + 5 * HOUR, limit: 333 });
      for (const every of [10_000, 60_000, HOUR]) {
        for (const agg of AGGREGATES)
          result[`${device} ${sensor} ${every} ${agg}`] = await allBuckets(store, {
            device,
            sensor,
            from: T0,
            to: T0 + 5 * HOUR,
            every,
            agg,
            limit: 500,
          });
      }
    }
  }
  return result;
}

describe('SQLite schema upgrade to version 3 (integer-keyed readings)', () => {
  let dir: string;
  const stores: SqliteReadingStore[] = [];
  const open = (at: string) => {
    const store = new SqliteReadingStore(at);
    stores.push(store);
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-migration-'));
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves every reading in chunks, keeps every rollup, seq range, latest and counter, and the API answers as a store written afresh', async () => {
    const rows = oldRows();
    mkdirSync(join(dir, 'old'));
    const file = join(dir, 'old', SQLITE_FILE);
    writeVersion2Store(file, rows);
    const before = snapshot(file);
    expect(before.readings).toHaveLength(rows.length);
    expect(before.seq_ranges.length).toBeGreaterThan(4);

    const db = new Database(file);
    const chunks: number[] = [];
    migrate(db, { chunkRows: 97, afterChunk: (moved) => chunks.push(moved) });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare(`SELECT type FROM sqlite_schema WHERE name = 'readings'`).pluck().get()).toBe('view');
    expect(db.prepare(`SELECT count(*) FROM sqlite_schema WHERE name = 'readings_v2'`).pluck().get()).toBe(0);
    db.close();
    expect(chunks.length).toBe(Math.ceil(rows.length / 97));
    expect(chunks.at(-1)).toBe(rows.length);
    expect(snapshot(file)).toEqual(before);

    // The same readings written afresh through the version 3 write path, batch by batch as they arrived.
    const fresh = open(join(dir, 'fresh'));
    const batches = new Map<string, OldRow[]>();
    for (const row of [...rows].sort((a, b) => a.received_at - b.received_at || a.device.localeCompare(b.device) || a.seq - b.seq)) {
      const key = `${row.device} ${row.boot} ${row.received_at}`;
      batches.set(key, [...(batches.get(key) ?? []), row]);
    }
    for (const group of batches.values()) {
      const [{ device, boot, received_at: receivedAt }] = group as [OldRow];
      const readings = group.map((r): Reading => ({
        seq: r.seq,
        ts: r.ts,
        sensor: r.sensor,
        value: r.value,
        unit: r.unit,
        quality: r.quality as Reading['quality'],
        clock: r.clock as Reading['clock'],
        replay: r.replay === 1,
      }));
      await fresh.insertBatch({ v: 1, device, boot, readings }, receivedAt);
    }
    const expected = await answers(fresh);
    const migrated = open(join(dir, 'old'));
    expect(await answers(migrated)).toEqual(expected);
    expect((await migrated.gaps({ device: 'furnace-1', limit: 100 })).items.length).toBeGreaterThan(2);
    // And it goes on: a redelivery is a duplicate, a late reading closes its gap.
    const late = { seq: 97, ts: T0 + 970_000, sensor: 'tc1', value: 1, unit: 'C', quality: 'good', clock: 'synced', replay: true } as const;
    expect(
      await migrated.insertBatch(
        { v: 1, device: 'furnace-1', boot: '01JBOOTA', readings: [{ ...late, seq: 96, ts: T0 + 960_000 }, late] },
        T0,
      ),
    ).toEqual({
      inserted: 1,
      duplicates: 1,
      gapsOpened: 0,
      gapsClosed: 1,
    });
  });

  it('resumes an upgrade cut short, losing and doubling nothing', async () => {
    const rows = oldRows();
    const file = join(dir, SQLITE_FILE);
    writeVersion2Store(file, rows);
    const before = snapshot(file);
    const db = new Database(file);
    expect(() =>
      migrate(db, {
        chunkRows: 500,
        afterChunk: (moved) => {
          if (moved >= 1000) throw new Error('power cut');
        },
      }),
    ).toThrow('power cut');
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare('SELECT count(*) FROM reading_rows').pluck().get()).toBe(1000);
    db.close();
    const store = open(dir); // the default chunks from here
    expect(snapshot(file)).toEqual(before);
    expect((await store.listDevices()).map((d) => d.readings)).toEqual([rows.length / 2, rows.length / 2]);
  });
});
