import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type StoreFixtureOptions, describeReadingStoreContract } from '../../test/helpers/reading-store-contract.js';
import { BOOT, DEVICE, T0, batch, reading } from '../../test/helpers/reading-store-fixtures.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { BackendError } from '../errors.js';
import { chooseSource, rollupRowsToRead } from './sqlite-queries.js';
import { SQLITE_FILE, SqliteReadingStore } from './sqlite-store.js';

async function openSqliteFixture(options: StoreFixtureOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-contract-'));
  const open = () => new SqliteReadingStore(dir, options.retention ? { retention: options.retention } : {});
  let store = open();
  return Promise.resolve({
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      return (store = open());
    },
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

describeReadingStoreContract('SqliteReadingStore', openSqliteFixture);

describe('SqliteReadingStore (SQLite particulars)', () => {
  let dir: string;
  const stores: SqliteReadingStore[] = [];
  const open = (options: ConstructorParameters<typeof SqliteReadingStore>[1] = {}) => {
    const store = new SqliteReadingStore(dir, options);
    stores.push(store);
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-store-test-'));
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers each aggregate from the coarsest exact source', () => {
    expect([1000, 30_000, 90_000, 60_000, 300_000, 3_600_000, 86_400_000].map(chooseSource)).toEqual([
      'raw',
      'raw',
      'raw',
      'rollup_1m',
      'rollup_1m',
      'rollup_1h',
      'rollup_1h',
    ]);
  });

  it('bounds the rollup rows an aggregate reads; raw readings have no bound', () => {
    const day = { device: DEVICE, from: T0, to: T0 + 86_400_000, agg: 'mean' as const };
    expect(rollupRowsToRead({ ...day, every: 60_000, limit: 2000 }, 1)).toBe(1440);
    expect(rollupRowsToRead({ ...day, every: 60_000, limit: 2000 }, 3)).toBe(4320);
    expect(rollupRowsToRead({ ...day, every: 120_000, limit: 10 }, 1)).toBe(20); // one page: `limit` buckets of two minutes
    expect(rollupRowsToRead({ ...day, every: 3_600_000, limit: 2000 }, 1)).toBe(24);
    expect(rollupRowsToRead({ ...day, every: 1000, limit: 10 }, 1)).toBe(Number.POSITIVE_INFINITY);
    expect(rollupRowsToRead({ ...day, every: 60_000, limit: 10, source: 'raw' }, 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('answers a bounded rollup aggregate on the main thread while the only worker runs a long scan', async () => {
    const store = open({ query: { workers: 1, maxQueued: 4, timeoutMs: 30_000 } });
    await store.insertBatch(batch([reading(1), reading(2), reading(3)], { boot: 'other-boot' }), T0);
    seedMany(join(dir, SQLITE_FILE), 60, 5000);
    let scanned = false;
    // Per-second buckets over every sensor: 300 000 readings on the worker, far longer than the rollup read.
    const slow = store.aggregate({ device: DEVICE, from: T0, to: T0 + 5_000_000, every: 1000, agg: 'mean', limit: 100_000 });
    const settled = slow.then(
      () => (scanned = true),
      () => (scanned = true),
    );
    const minute = await store.aggregate({
      device: DEVICE,
      sensor: 'tc1',
      from: T0,
      to: T0 + 60_000,
      every: 60_000,
      agg: 'last',
      limit: 10,
    });
    expect(minute).toEqual({ items: [{ sensor: 'tc1', bucket: T0, value: 803, count: 3 }], truncated: false, source: 'rollup_1m' });
    expect(scanned).toBe(false);
    await settled;
  });

  it('throws BACKEND_STORE_OPEN_FAILED where no folder can be made', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    expect(() => new SqliteReadingStore(join(file, 'store'))).toThrow(
      expect.objectContaining({ name: 'BackendError', code: 'BACKEND_STORE_OPEN_FAILED' }) as BackendError,
    );
  });

  it('says it is not writable, at once, while another process holds the write lock; and recovers', async () => {
    const store = open();
    await store.insertBatch(batch([reading(1)]), T0);
    const other = new Database(join(dir, SQLITE_FILE), { timeout: 0 });
    try {
      other.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      expect(await store.health()).toEqual({ writable: false, detail: 'database is locked' });
      await expect(store.insertBatch(batch([reading(2)]), T0)).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      expect(performance.now() - started).toBeLessThan(500); // no 5 s busy wait on the event loop
      expect((await store.latest(DEVICE)).map((r) => r.seq)).toEqual([1]); // reads go on beside the lock
      other.exec('ROLLBACK');
      expect(await store.health()).toMatchObject({ writable: false, detail: expect.stringContaining('last write failed') as string });
      await store.insertBatch(batch([reading(2)]), T0);
      expect(await store.health()).toEqual({ writable: true });
    } finally {
      other.close();
    }
  });

  it('answers STORE_CLOSED once closed, from every kind of read', async () => {
    const store = open();
    await store.close();
    await expect(store.latest(DEVICE)).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await expect(store.rawRange({ device: DEVICE, from: 0, to: 1, limit: 1 })).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    expect((await store.health()).writable).toBe(false);
  });

  it('upgrades a store written before versioning, backfilling rollups and seq ranges', async () => {
    const old = new Database(join(dir, SQLITE_FILE));
    old.exec(`CREATE TABLE readings (device TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, sensor TEXT NOT NULL,
      ts INTEGER NOT NULL, value REAL, unit TEXT NOT NULL, quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL,
      received_at INTEGER NOT NULL, PRIMARY KEY (device, boot, seq)) WITHOUT ROWID;`);
    const insert = old.prepare(`INSERT INTO readings VALUES (?, ?, ?, 'tc1', ?, ?, 'C', 'good', 'synced', 0, ?)`);
    for (const seq of [1, 2, 3, 6, 7]) insert.run(DEVICE, BOOT, seq, T0 + seq * 1000, 800 + seq, T0);
    // Values no sensor reads stay out of the backfilled rollups, as out of those written since.
    for (const seq of [8, 9]) insert.run(DEVICE, BOOT, seq, T0 + seq * 1000, 1.7e308, T0);
    old.close();
    const store = open();
    expect((await store.gaps({ device: DEVICE, limit: 10 })).items.map((g) => [g.fromSeq, g.toSeq])).toEqual([[4, 5]]);
    const minute = await store.aggregate({ device: DEVICE, from: T0, to: T0 + 60_000, every: 60_000, agg: 'last', limit: 10 });
    expect(minute).toEqual({ items: [{ sensor: 'tc1', bucket: T0, value: 807, count: 5 }], truncated: false, source: 'rollup_1m' });
    expect((await store.readings(DEVICE)).map((r) => r.value)).toEqual([801, 802, 803, 806, 807, 1.7e308, 1.7e308]);
    // and it goes on growing both
    await store.insertBatch(batch([reading(4), reading(5)]), T0);
    expect((await store.gaps({ device: DEVICE, limit: 10 })).items).toEqual([]);
  });

  it('answers a query past its budget with STORE_QUERY_TIMEOUT at once; refuses more while the abandoned query ends; then recovers', async () => {
    const store = open({ query: { workers: 1, maxQueued: 4, timeoutMs: 150 } });
    seedMany(join(dir, SQLITE_FILE), 60, 5000);
    const quick = () => store.rawRange({ device: DEVICE, sensor: 's1', from: T0, to: T0 + 10_000, limit: 5 });
    const started = performance.now();
    // Per-second buckets over every sensor: 300 000 readings grouped in one page; far more than 150 ms here.
    const slow = store.aggregate({ device: DEVICE, from: T0, to: T0 + 5_000_000, every: 1000, agg: 'mean', limit: 100_000 });
    await expect(slow).rejects.toMatchObject({ code: 'STORE_QUERY_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(1000);
    // SQLite cannot be interrupted: the abandoned thread runs on until its statement returns, and
    // it counts against the pool, so more work is refused at once rather than piling up threads.
    await expect(quick()).rejects.toMatchObject({ code: 'STORE_QUERY_BUSY' });
    const page = await waitFor(() => quick().catch(() => undefined), { timeoutMs: 10_000, what: 'the pool to take queries again' });
    expect(page.items).toHaveLength(5);
  });

  it('cancels a query whose caller is gone', async () => {
    const store = open({ query: { workers: 1, maxQueued: 4, timeoutMs: 10_000 } });
    const abort = new AbortController();
    abort.abort();
    await expect(store.rawRange({ device: DEVICE, from: 0, to: 1, limit: 1 }, { signal: abort.signal })).rejects.toMatchObject({
      code: 'STORE_QUERY_ABORTED',
    });
  });
});

/** `sensors` sensors with one reading per second for `seconds`, straight into the file: fast to make. */
function seedMany(file: string, sensors: number, seconds: number): void {
  const db = new Database(file);
  // better-sqlite3 binds every JS number as a REAL: cast, or i / sensors would not be whole.
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < @count - 1)
     INSERT INTO readings SELECT @device, @boot, i + 1, 's' || (i % CAST(@sensors AS INTEGER)), CAST(@t0 AS INTEGER) + (i / CAST(@sensors AS INTEGER)) * 1000,
       800 + i % 7, 'C', 'good', 'synced', 0, @t0 FROM n`,
  ).run({ count: sensors * seconds, device: DEVICE, boot: BOOT, sensors, t0: T0 });
  db.close();
}

describe('SqliteReadingStore: many batches in one transaction', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('stores, counts duplicates and gaps exactly as the same batches committed one by one', async () => {
    // Out of order, redelivered inside the same transaction, two boots, a hole opened and closed, a split.
    const seqs = [[1, 2, 3], [7, 8], [2, 3, 4], [12], [5], [7, 8], [6, 9, 10], [15, 16], [11, 12, 13]];
    const batches = seqs.flatMap((list, i) => [
      { batch: batch(list.map((seq) => reading(seq, { sensor: seq % 2 ? 'tc1' : 'tc2' }))), receivedAt: T0 + i },
      {
        batch: batch(
          list.map((seq) => reading(seq)),
          { boot: 'B2', device: i % 2 ? DEVICE : 'annealer' },
        ),
        receivedAt: T0 + i,
      },
    ]);
    const stores = [0, 1].map(() => {
      const dir = mkdtempSync(join(tmpdir(), 'sqlite-one-transaction-'));
      dirs.push(dir);
      return new SqliteReadingStore(dir);
    });
    const [together, oneByOne] = stores as [SqliteReadingStore, SqliteReadingStore];
    const sum = { inserted: 0, duplicates: 0, gapsOpened: 0, gapsClosed: 0 };
    for (const item of batches) {
      const result = await oneByOne.insertBatch(item.batch, item.receivedAt);
      for (const key of Object.keys(sum) as Array<keyof typeof sum>) sum[key] += result[key];
    }
    expect(await together.insertBatches(batches)).toEqual(sum);
    expect(sum).toMatchObject({ duplicates: 9 });
    for (const device of [DEVICE, 'annealer']) {
      for (const store of stores) expect((await store.readings(device)).length).toBeGreaterThan(0);
      const [a, b] = await Promise.all(
        stores.map(async (store) => [await store.readings(device), await store.latest(device), await store.gaps({ device, limit: 50 })]),
      );
      expect(a).toEqual(b);
    }
    expect(await together.listDevices()).toEqual(await oneByOne.listDevices());
    for (const store of stores) await store.close();
  });
});
