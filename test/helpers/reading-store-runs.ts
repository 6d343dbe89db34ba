// The confirmation part of the ReadingStore contract: the runs of stored seq that the backend
// confirms to an agent (`telemetry/v1/{device}/stored`), which the agent forgets exactly.
import { expect, it } from 'vitest';
import type { ReadingStore } from '../../backend/store/reading-store.js';
import { BOOT, DEVICE, batch, reading } from './reading-store-fixtures.js';

const readingsOf = (...seqs: number[]) => seqs.map((seq) => reading(seq));

export function describeStoredRunsContract(fresh: () => Promise<ReadingStore>): void {
  it('answers the stored runs that overlap a seq window, runs that start below it included', async () => {
    const store = await fresh();
    // Runs 1-5, 8-9, 12, 20-22; another boot and another device beside them.
    await store.insertBatch(batch(readingsOf(1, 2, 3, 4, 5, 8, 9, 12, 20, 21, 22)), 1);
    await store.insertBatch(batch(readingsOf(6, 7), { boot: 'other-boot' }), 1);
    await store.insertBatch(batch(readingsOf(1, 2, 3), { device: 'furnace-2' }), 1);
    expect(await store.storedRuns(DEVICE, BOOT, 4, 8, 10)).toEqual([
      [1, 5],
      [8, 9],
    ]);
    expect(await store.storedRuns(DEVICE, BOOT, 10, 11, 10)).toEqual([]);
    expect(await store.storedRuns(DEVICE, BOOT, 1, 100, 10)).toEqual([
      [1, 5],
      [8, 9],
      [12, 12],
      [20, 22],
    ]);
    expect(await store.storedRuns(DEVICE, BOOT, 1, 100, 2)).toEqual([
      [1, 5],
      [8, 9],
    ]);
    expect(await store.storedRuns(DEVICE, 'other-boot', 1, 100, 10)).toEqual([[6, 7]]);
    expect(await store.storedRuns(DEVICE, 'no-such-boot', 1, 100, 10)).toEqual([]);
  });

  it('merges runs as holes are filled, so a late reading confirms its whole run', async () => {
    const store = await fresh();
    await store.insertBatch(batch(readingsOf(1, 2, 5, 6)), 1);
    expect(await store.storedRuns(DEVICE, BOOT, 5, 5, 10)).toEqual([[5, 6]]);
    await store.insertBatch(batch(readingsOf(3, 4)), 2);
    expect(await store.storedRuns(DEVICE, BOOT, 3, 4, 10)).toEqual([[1, 6]]);
    // A redelivery stores nothing new and is confirmed all the same.
    expect(await store.insertBatch(batch(readingsOf(3, 4)), 3)).toMatchObject({ inserted: 0, duplicates: 2 });
    expect(await store.storedRuns(DEVICE, BOOT, 3, 4, 10)).toEqual([[1, 6]]);
  });
}
