// The contract every ReadingStore must pass, whatever its engine. A store's own test file calls
//   describeReadingStoreContract('SqliteReadingStore', (options) => openSqliteFixture(options));
// and adds only what is particular to its engine. Everything here goes through the interface.
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadingStore, RetentionPolicy } from '../../backend/store/reading-store.js';
import { describeAggregateContract } from './reading-store-aggregates.js';
import { describeStoredRunsContract } from './reading-store-runs.js';
import { BOOT, DEVICE, T0, allBuckets, allRaw, batch, reading } from './reading-store-fixtures.js';

export interface StoreFixture {
  store: ReadingStore;
  /** Closes the store and opens a new one on the same data. */
  reopen(): Promise<ReadingStore>;
  /** Closes the store and deletes its data. */
  dispose(): Promise<void>;
}

export interface StoreFixtureOptions {
  retention?: RetentionPolicy;
}

export type OpenStore = (options?: StoreFixtureOptions) => Promise<StoreFixture>;

/** What differs between engines, each documented by the store. */
export interface StoreCapabilities {
  /**
   * `store` (default): applyRetention deletes raw readings past retention and keeps rollups.
   * `engine`: the database expires raw readings by its own retention policy (InfluxDB), and
   * applyRetention deletes nothing.
   */
  retention?: 'store' | 'engine';
}

const seqs = (rows: ReadonlyArray<{ seq: number }>) => rows.map((row) => row.seq);

export function describeReadingStoreContract(name: string, open: OpenStore, capabilities: StoreCapabilities = {}): void {
  describe(`ReadingStore contract: ${name}`, () => {
    const fixtures: StoreFixture[] = [];
    const fresh = async (options?: StoreFixtureOptions) => {
      const fixture = await open(options);
      fixtures.push(fixture);
      return fixture.store;
    };
    afterEach(async () => {
      for (const fixture of fixtures.splice(0)) await fixture.dispose();
    });

    it('stores a batch and reads it back in seq order, with device, boot and receivedAt', async () => {
      const store = await fresh();
      expect(await store.insertBatch(batch([reading(3), reading(1), reading(2)]), T0 + 5000)).toEqual({
        inserted: 3,
        duplicates: 0,
        gapsOpened: 0,
        gapsClosed: 0,
      });
      const stored = await store.readings(DEVICE);
      expect(seqs(stored)).toEqual([1, 2, 3]);
      expect(stored[0]).toEqual({ ...reading(1), device: DEVICE, boot: BOOT, receivedAt: T0 + 5000 });
      expect(seqs(await store.readings(DEVICE, { limit: 2 }))).toEqual([1, 2]);
    });

    it('stores nothing twice: a redelivered batch counts as duplicates, a partly new one stores only the new', async () => {
      const store = await fresh();
      const same = batch([reading(1), reading(2), reading(3)]);
      await store.insertBatch(same, T0);
      expect(await store.insertBatch(same, T0 + 1)).toEqual({ inserted: 0, duplicates: 3, gapsOpened: 0, gapsClosed: 0 });
      expect(await store.insertBatch(batch([reading(3), reading(4)]), T0 + 2)).toMatchObject({ inserted: 1, duplicates: 1 });
      expect(seqs(await store.readings(DEVICE))).toEqual([1, 2, 3, 4]);
      expect((await store.device(DEVICE))?.readings).toBe(4);
    });

    it('commits several batches in one call and sums their results', async () => {
      const store = await fresh();
      const result = await store.insertBatches([
        { batch: batch([reading(1), reading(2)]), receivedAt: T0 },
        { batch: batch([reading(2), reading(3)]), receivedAt: T0 + 1 },
        { batch: batch([reading(1)], { device: 'annealer' }), receivedAt: T0 + 2 },
      ]);
      expect(result).toEqual({ inserted: 4, duplicates: 1, gapsOpened: 0, gapsClosed: 0 });
      expect((await store.listDevices()).map((d) => [d.device, d.readings])).toEqual([
        ['annealer', 1],
        [DEVICE, 3],
      ]);
    });

    it('tells readings of different boots apart even with the same seq', async () => {
      const store = await fresh();
      await store.insertBatch(batch([reading(1)]), T0);
      expect(await store.insertBatch(batch([reading(1)], { boot: '01JBOOTB' }), T0)).toMatchObject({ inserted: 1, duplicates: 0 });
      expect((await store.readings(DEVICE)).map((row) => row.boot)).toEqual([BOOT, '01JBOOTB']);
    });

    it('keeps the newest reading of each sensor by source time, a bad one included', async () => {
      const store = await fresh();
      await store.insertBatch(
        batch([reading(10, { ts: T0 + 10_000, value: 850 }), reading(11, { sensor: 'tc2', ts: T0 + 10_000 })]),
        T0 + 11_000,
      );
      // A replay from the outbox: newer seq, older source time; it must not become the latest.
      await store.insertBatch(
        batch([reading(12, { ts: T0 + 1000, replay: true }), reading(13, { sensor: 'tc2', value: null, quality: 'bad' })]),
        T0 + 21_000,
      );
      const latest = await store.latest(DEVICE);
      expect(latest.map((row) => [row.sensor, row.seq, row.value])).toEqual([
        ['tc1', 10, 850],
        ['tc2', 13, null],
      ]);
      expect(latest[1]).toEqual({
        ...reading(13, { sensor: 'tc2', value: null, quality: 'bad' }),
        device: DEVICE,
        boot: BOOT,
        receivedAt: T0 + 21_000,
      });
    });

    it('stores a reading stamped more than 5 minutes ahead of its arrival, but in latest it counts as taken when it arrived', async () => {
      const store = await fresh();
      const century = 100 * 365 * 86_400_000;
      const latestSeq = async () => seqs(await store.latest(DEVICE));
      await store.insertBatch(batch([reading(1, { ts: T0 + 1000 })]), T0 + 1500);
      // A Pi that booted with its clock a century ahead: its readings are the newest arrivals, so they are the latest...
      await store.insertBatch(batch([reading(2, { ts: T0 + century, clock: 'unsynced' })]), T0 + 2000);
      expect(await latestSeq()).toEqual([2]);
      await store.insertBatch(batch([reading(3, { ts: T0 + century - 60_000, clock: 'unsynced' })]), T0 + 3000);
      expect(await latestSeq()).toEqual([3]); // ordered by arrival, though stamped earlier than seq 2
      // ...but no older reading takes over (a replay from the outbox, stamped before they arrived),
      await store.insertBatch(batch([reading(4, { ts: T0 + 2500, replay: true })]), T0 + 4000);
      expect(await latestSeq()).toEqual([3]);
      // and the first reading taken after their arrival does: the dashboard never freezes on them.
      await store.insertBatch(batch([reading(5, { ts: T0 + 3001 })]), T0 + 5000);
      expect(await latestSeq()).toEqual([5]);
      // Within the tolerance (clock skew), the source time is believed: 4 minutes ahead shadows what follows.
      await store.insertBatch(batch([reading(6, { ts: T0 + 6000 + 240_000 })]), T0 + 6000);
      await store.insertBatch(batch([reading(7, { ts: T0 + 7000 })]), T0 + 7000);
      expect(await latestSeq()).toEqual([6]);
      // Nothing was lost or restamped.
      const stored = await store.readings(DEVICE);
      expect(stored.map((r) => [r.seq, r.ts])).toEqual([
        [1, T0 + 1000],
        [2, T0 + century],
        [3, T0 + century - 60_000],
        [4, T0 + 2500],
        [5, T0 + 3001],
        [6, T0 + 246_000],
        [7, T0 + 7000],
      ]);
      expect(stored[1]).toMatchObject({ ts: T0 + century, clock: 'unsynced', receivedAt: T0 + 2000 });
    });

    it('lists devices with counts and first and last batch times; an unknown device is empty everywhere', async () => {
      const store = await fresh();
      expect(await store.listDevices()).toEqual([]);
      await store.insertBatch(batch([reading(1), reading(2)]), T0 + 100);
      await store.insertBatch(batch([reading(3)]), T0 + 200);
      await store.insertBatch(batch([reading(1)], { device: 'annealer' }), T0 + 300);
      expect(await store.listDevices()).toEqual([
        { device: 'annealer', firstSeen: T0 + 300, lastSeen: T0 + 300, readings: 1 },
        { device: DEVICE, firstSeen: T0 + 100, lastSeen: T0 + 200, readings: 3 },
      ]);
      expect(await store.device('nobody')).toBeUndefined();
      expect(await store.latest('nobody')).toEqual([]);
      expect(await store.readings('nobody')).toEqual([]);
      expect(await store.rawRange({ device: 'nobody', from: 0, to: T0 * 2, limit: 10 })).toEqual({ items: [], truncated: false });
      expect((await store.gaps({ device: 'nobody', limit: 10 })).items).toEqual([]);
    });

    it('keeps its data across a close and reopen', async () => {
      const fixture = await open();
      fixtures.push(fixture);
      await fixture.store.insertBatch(batch([reading(1), reading(2)]), T0);
      const again = await fixture.reopen();
      expect(seqs(await again.readings(DEVICE))).toEqual([1, 2]);
      expect(seqs(await again.latest(DEVICE))).toEqual([2]);
      expect(await again.insertBatch(batch([reading(2), reading(3)]), T0 + 1)).toMatchObject({ inserted: 1, duplicates: 1 });
    });

    it('answers raw ranges in (ts, sensor, boot, seq) order, [from, to), by sensor or all, paging with a cursor and no silent cap', async () => {
      const store = await fresh();
      const rows = Array.from({ length: 30 }, (_, i) =>
        reading(i + 1, { sensor: i % 2 ? 'tc2' : 'tc1', ts: T0 + Math.floor(i / 2) * 1000 }),
      );
      await store.insertBatch(batch(rows), T0);
      const all = await allRaw(store, { device: DEVICE, from: T0, to: T0 + 15_000, limit: 7 });
      expect(all.pages).toBe(5);
      expect(all.rows.map((row) => [row.ts, row.sensor])).toEqual(rows.map((row) => [row.ts, row.sensor]));
      const window = await store.rawRange({ device: DEVICE, sensor: 'tc2', from: T0 + 2000, to: T0 + 5000, limit: 100 });
      expect(window).toEqual({
        items: rows
          .filter((r) => r.sensor === 'tc2' && r.ts >= T0 + 2000 && r.ts < T0 + 5000)
          .map((r) => expect.objectContaining(r) as unknown),
        truncated: false,
      });
      const exact = await store.rawRange({ device: DEVICE, sensor: 'tc1', from: T0, to: T0 + 3000, limit: 3 });
      expect(exact.truncated).toBe(false); // exactly `limit` rows, and nothing more: not truncated
      const paged = await allRaw(store, { device: DEVICE, sensor: 'tc1', from: T0, to: T0 + 15_000, limit: 4 });
      expect(seqs(paged.rows)).toEqual(seqs(rows.filter((r) => r.sensor === 'tc1')));
    });

    it('orders raw readings with the same time by sensor, then boot, then seq', async () => {
      const store = await fresh();
      await store.insertBatch(batch([reading(5, { ts: T0, sensor: 'tc2' }), reading(6, { ts: T0, sensor: 'tc1' })], { boot: 'B' }), T0);
      await store.insertBatch(batch([reading(1, { ts: T0, sensor: 'tc1' })], { boot: 'A' }), T0);
      const { rows } = await allRaw(store, { device: DEVICE, from: T0, to: T0 + 1, limit: 1 });
      expect(rows.map((r) => [r.sensor, r.boot, r.seq])).toEqual([
        ['tc1', 'A', 1],
        ['tc1', 'B', 6],
        ['tc2', 'B', 5],
      ]);
    });

    describeAggregateContract(fresh);
    describeStoredRunsContract(fresh);

    it('reports a missing seq range per device and boot, and closes it when the late readings come', async () => {
      const store = await fresh();
      await store.insertBatch(batch([reading(1), reading(2), reading(3)]), T0);
      expect(await store.insertBatch(batch([reading(7), reading(8)]), T0)).toMatchObject({ gapsOpened: 1, gapsClosed: 0 });
      expect(await store.insertBatch(batch([reading(11)]), T0)).toMatchObject({ gapsOpened: 1, gapsClosed: 0 });
      await store.insertBatch(batch([reading(1)], { boot: 'B2' }), T0);
      expect((await store.gaps({ device: DEVICE, limit: 10 })).items).toEqual([
        { device: DEVICE, boot: BOOT, fromSeq: 4, toSeq: 6, afterTs: reading(3).ts, beforeTs: reading(7).ts },
        { device: DEVICE, boot: BOOT, fromSeq: 9, toSeq: 10, afterTs: reading(8).ts, beforeTs: reading(11).ts },
      ]);
      expect(await store.insertBatch(batch([reading(5)]), T0)).toMatchObject({ gapsOpened: 1, gapsClosed: 0 }); // 4-6 split in two
      expect(await store.insertBatch(batch([reading(4), reading(6), reading(9)]), T0)).toMatchObject({ gapsOpened: 0, gapsClosed: 2 });
      const left = await store.gaps({ device: DEVICE, limit: 10 });
      expect(left).toEqual({ items: [expect.objectContaining({ fromSeq: 10, toSeq: 10 }) as unknown], truncated: false });
      expect(seqs(await store.readings(DEVICE))).toEqual([1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);
    });

    it('pages through gaps and filters them by boot', async () => {
      const store = await fresh();
      await store.insertBatch(batch([1, 3, 5, 7].map((seq) => reading(seq))), T0);
      await store.insertBatch(
        batch(
          [1, 4].map((seq) => reading(seq)),
          { boot: 'B2' },
        ),
        T0,
      );
      const first = await store.gaps({ device: DEVICE, limit: 2 });
      expect(first.items.map((g) => [g.boot, g.fromSeq])).toEqual([
        [BOOT, 2],
        [BOOT, 4],
      ]);
      expect(first.truncated).toBe(true);
      const second = await store.gaps({ device: DEVICE, limit: 2, after: first.next });
      expect(second.items.map((g) => [g.boot, g.fromSeq])).toEqual([
        [BOOT, 6],
        ['B2', 2],
      ]);
      expect(second.truncated).toBe(false);
      expect((await store.gaps({ device: DEVICE, boot: 'B2', limit: 10 })).items.map((g) => [g.fromSeq, g.toSeq])).toEqual([[2, 3]]);
    });

    if (capabilities.retention === 'engine')
      it('leaves retention to the database engine: applyRetention deletes nothing', async () => {
        const store = await fresh({ retention: { rawRetentionDays: 1, minuteRollupRetentionDays: 3, hourRollupRetentionDays: 0 } });
        const day = 24 * 3600 * 1000;
        await store.insertBatch(batch([reading(1, { ts: T0 }), reading(2, { ts: T0 + 2 * day })]), T0);
        expect(await store.applyRetention(T0 + 3 * day)).toEqual({ rawReadings: 0, minuteRollups: 0, hourRollups: 0 });
        expect(seqs(await store.readings(DEVICE))).toEqual([1, 2]);
      });
    else
      it('deletes raw readings past retention but keeps their rollups, and lowers the device count', async () => {
        const store = await fresh({ retention: { rawRetentionDays: 1, minuteRollupRetentionDays: 3, hourRollupRetentionDays: 0 } });
        const day = 24 * 3600 * 1000;
        await store.insertBatch(batch([reading(1, { ts: T0 }), reading(2, { ts: T0 + 2 * day }), reading(3, { ts: T0 + 3 * day })]), T0);
        const removed = await store.applyRetention(T0 + 3 * day + 1000);
        expect(removed).toEqual({ rawReadings: 2, minuteRollups: 1, hourRollups: 0 });
        expect(seqs(await store.readings(DEVICE))).toEqual([3]);
        expect((await store.device(DEVICE))?.readings).toBe(1);
        const hours = await allBuckets(store, { device: DEVICE, from: T0, to: T0 + 4 * day, every: 3_600_000, agg: 'count', limit: 100 });
        expect(hours.map((p) => p.count)).toEqual([1, 1, 1]);
        expect(seqs(await store.latest(DEVICE))).toEqual([3]);
      });

    it('is writable while open', async () => {
      const store = await fresh();
      expect(await store.health()).toEqual({ writable: true });
      await store.insertBatch(batch([reading(1)]), T0);
      expect((await store.health()).writable).toBe(true);
    });
  });
}
