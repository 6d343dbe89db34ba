import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading, ReadingBatch } from '../../contract/index.js';
import { BackendError } from '../errors.js';
import { SqliteReadingStore } from './sqlite-store.js';

const DEVICE = 'furnace-1';
const BOOT = '01JBOOTA';
const T0 = 1764340000000;

function reading(seq: number, overrides: Partial<Reading> = {}): Reading {
  return { seq, ts: T0 + seq * 1000, sensor: 'tc1', value: 800 + seq, unit: 'C', quality: 'good', clock: 'synced', replay: false, ...overrides };
}

function batch(readings: Reading[], overrides: Partial<Omit<ReadingBatch, 'readings'>> = {}): ReadingBatch {
  return { v: 1, device: DEVICE, boot: BOOT, readings, ...overrides };
}

describe('SqliteReadingStore', () => {
  let dir: string;
  const stores: SqliteReadingStore[] = [];
  const open = () => {
    const store = new SqliteReadingStore(dir);
    stores.push(store);
    return store;
  };
  const close = async (store: SqliteReadingStore) => {
    stores.splice(stores.indexOf(store), 1);
    await store.close();
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-store-test-'));
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a batch and reads it back in seq order, with device, boot and receivedAt', async () => {
    const store = open();
    // Given out of order on purpose: readings() orders by seq, not by arrival.
    const readings = [reading(3), reading(1), reading(2)];
    expect(await store.insertBatch(batch(readings), T0 + 5000)).toEqual({ inserted: 3, duplicates: 0 });
    const stored = await store.readings(DEVICE);
    expect(stored.map((row) => row.seq)).toEqual([1, 2, 3]);
    expect(stored[0]).toEqual({ ...reading(1), device: DEVICE, boot: BOOT, receivedAt: T0 + 5000 });
  });

  it('honours the limit of readings()', async () => {
    const store = open();
    await store.insertBatch(batch([1, 2, 3, 4, 5].map((seq) => reading(seq))), T0);
    expect((await store.readings(DEVICE, { limit: 2 })).map((row) => row.seq)).toEqual([1, 2]);
  });

  it('counts a redelivered batch as duplicates and stores nothing twice', async () => {
    const store = open();
    const same = batch([reading(1), reading(2), reading(3)]);
    expect(await store.insertBatch(same, T0)).toEqual({ inserted: 3, duplicates: 0 });
    expect(await store.insertBatch(same, T0 + 1)).toEqual({ inserted: 0, duplicates: 3 });
    // Partly new: only the new reading counts.
    expect(await store.insertBatch(batch([reading(3), reading(4)]), T0 + 2)).toEqual({ inserted: 1, duplicates: 1 });
    expect((await store.readings(DEVICE)).map((row) => row.seq)).toEqual([1, 2, 3, 4]);
    expect((await store.listDevices())[0]?.readings).toBe(4);
  });

  it('tells readings of different boots apart even with the same seq', async () => {
    const store = open();
    await store.insertBatch(batch([reading(1)]), T0);
    expect(await store.insertBatch(batch([reading(1)], { boot: '01JBOOTB' }), T0)).toEqual({ inserted: 1, duplicates: 0 });
    expect((await store.readings(DEVICE)).map((row) => row.boot)).toEqual([BOOT, '01JBOOTB']);
  });

  it('keeps one latest reading per sensor, the newest by source time even if an older batch arrives later', async () => {
    const store = open();
    await store.insertBatch(
      batch([reading(10, { sensor: 'tc1', ts: T0 + 10_000, value: 850 }), reading(11, { sensor: 'tc2', ts: T0 + 10_000, value: 640 })]),
      T0 + 11_000,
    );
    // A replayed batch from the outbox: newer seq, older source time.
    await store.insertBatch(
      batch([reading(12, { sensor: 'tc1', ts: T0 + 1_000, value: 20, replay: true }), reading(13, { sensor: 'tc2', ts: T0 + 20_000, value: 650 })]),
      T0 + 21_000,
    );
    const latest = await store.latest(DEVICE);
    expect(latest.map((row) => [row.sensor, row.seq, row.ts, row.value])).toEqual([
      ['tc1', 10, T0 + 10_000, 850],
      ['tc2', 13, T0 + 20_000, 650],
    ]);
    expect(latest[0]).toEqual({ ...reading(10, { sensor: 'tc1', ts: T0 + 10_000, value: 850 }), device: DEVICE, boot: BOOT, receivedAt: T0 + 11_000 });
  });

  it('keeps a bad reading with a null value, and it becomes the latest', async () => {
    const store = open();
    await store.insertBatch(batch([reading(1)]), T0);
    const bad = reading(2, { value: null, quality: 'bad', clock: 'unsynced' });
    await store.insertBatch(batch([bad]), T0 + 1);
    expect(await store.latest(DEVICE)).toEqual([{ ...bad, device: DEVICE, boot: BOOT, receivedAt: T0 + 1 }]);
  });

  it('lists devices with their reading counts and first and last batch times', async () => {
    const store = open();
    expect(await store.listDevices()).toEqual([]);
    await store.insertBatch(batch([reading(1), reading(2)]), T0 + 100);
    await store.insertBatch(batch([reading(3)]), T0 + 200);
    await store.insertBatch(batch([reading(1)], { device: 'annealer' }), T0 + 300);
    expect(await store.listDevices()).toEqual([
      { device: 'annealer', firstSeen: T0 + 300, lastSeen: T0 + 300, readings: 1 },
      { device: DEVICE, firstSeen: T0 + 100, lastSeen: T0 + 200, readings: 3 },
    ]);
  });

  it('answers an unknown device with empty lists', async () => {
    const store = open();
    await store.insertBatch(batch([reading(1)]), T0);
    expect(await store.latest('no-such-device')).toEqual([]);
    expect(await store.readings('no-such-device')).toEqual([]);
  });

  it('is writable while open', async () => {
    const store = open();
    expect(await store.writable()).toBe(true);
    await store.insertBatch(batch([reading(1)]), T0); // writable() left no transaction open
    expect(await store.writable()).toBe(true);
  });

  it('keeps its data across a close and reopen', async () => {
    const first = open();
    await first.insertBatch(batch([reading(1), reading(2)]), T0);
    await close(first);
    const second = open();
    expect((await second.readings(DEVICE)).map((row) => row.seq)).toEqual([1, 2]);
    expect((await second.latest(DEVICE)).map((row) => row.seq)).toEqual([2]);
    expect(await second.listDevices()).toEqual([{ device: DEVICE, firstSeen: T0, lastSeen: T0, readings: 2 }]);
    expect(await second.insertBatch(batch([reading(2), reading(3)]), T0 + 1)).toEqual({ inserted: 1, duplicates: 1 });
  });

  it('throws BACKEND_STORE_OPEN_FAILED where no folder can be made', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    expect(() => new SqliteReadingStore(join(file, 'store'))).toThrow(
      expect.objectContaining({ name: 'BackendError', code: 'BACKEND_STORE_OPEN_FAILED' }) as BackendError,
    );
  });
});
