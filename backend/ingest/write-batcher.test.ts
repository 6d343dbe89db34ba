import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BOOT, DEVICE, batch, reading } from '../../test/helpers/reading-store-fixtures.js';
import type { BatchToInsert, InsertResult } from '../store/reading-store.js';
import { type CommitInfo, WriteBatcher } from './write-batcher.js';

/** A store that records each transaction and fails while `failing` is set. */
function fakeStore() {
  const transactions: BatchToInsert[][] = [];
  const state = { failing: undefined as Error | undefined };
  return {
    transactions,
    state,
    insertBatches(batches: readonly BatchToInsert[]): Promise<InsertResult> {
      if (state.failing) return Promise.reject(state.failing);
      transactions.push([...batches]);
      const inserted = batches.reduce((sum, item) => sum + item.batch.readings.length, 0);
      return Promise.resolve({ inserted, duplicates: 0, gapsOpened: 0, gapsClosed: 0 });
    },
  };
}

const tenReadings = (first: number) => batch(Array.from({ length: 10 }, (_, i) => reading(first + i)));

describe('WriteBatcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (store: ReturnType<typeof fakeStore>, commits: CommitInfo[] = []) =>
    new WriteBatcher({
      store,
      maxReadings: 30,
      maxDelayMs: 50,
      maxPendingReadings: 40,
      retryMaxDelayMs: 1000,
      onCommit: (c) => commits.push(c),
    });

  it('commits by time: batches arriving together share one transaction after maxDelayMs', async () => {
    const store = fakeStore();
    const batcher = make(store);
    const done = vi.fn();
    void batcher.add(tenReadings(1), 1).then(done);
    void batcher.add(tenReadings(11), 2).then(done);
    await vi.advanceTimersByTimeAsync(49);
    expect(store.transactions).toHaveLength(0);
    expect(done).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(store.transactions.map((tx) => tx.length)).toEqual([2]);
    expect(done).toHaveBeenCalledTimes(2);
  });

  it('commits by count: once maxReadings wait, without waiting for the timer; the rest follows by time', async () => {
    const store = fakeStore();
    const commits: CommitInfo[] = [];
    const batcher = make(store, commits);
    for (let i = 0; i < 4; i++) void batcher.add(tenReadings(i * 10 + 1), i);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.transactions.map((tx) => tx.length)).toEqual([3]);
    await vi.advanceTimersByTimeAsync(50);
    expect(store.transactions.map((tx) => tx.length)).toEqual([3, 1]);
    expect(commits.map((c) => [c.batches, c.result.inserted])).toEqual([
      [3, 30],
      [1, 10],
    ]);
  });

  it('keeps a failed transaction and retries it with growing pauses; past maxPendingReadings it has no room until it commits', async () => {
    const store = fakeStore();
    const failures: number[] = [];
    const batcher = new WriteBatcher({
      store,
      maxReadings: 30,
      maxDelayMs: 0,
      maxPendingReadings: 40,
      retryMaxDelayMs: 400,
      onFailure: (_error, _attempt, retryInMs) => failures.push(retryInMs),
    });
    store.state.failing = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const first = batcher.add(tenReadings(1), 1);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 1; i < 4; i++) void batcher.add(tenReadings(i * 10 + 1), i + 1);
    expect(batcher.hasRoom).toBe(false); // 40 uncommitted
    let roomy = false;
    void batcher.room().then(() => (roomy = true));
    await vi.advanceTimersByTimeAsync(1500);
    expect(failures.slice(0, 3)).toEqual([100, 200, 400]);
    expect(failures.slice(3).every((pause) => pause === 400)).toBe(true);
    expect(batcher.lastFailure?.message).toBe('database is locked');
    expect(roomy).toBe(false);
    store.state.failing = undefined;
    await vi.advanceTimersByTimeAsync(400);
    await first;
    expect(store.transactions[0]?.map((item) => item.receivedAt)).toEqual([1]); // the failed one, alone, first
    await vi.advanceTimersByTimeAsync(10);
    expect(roomy).toBe(true);
    expect(batcher.lastFailure).toBeUndefined();
    expect(store.transactions.flat().map((item) => item.receivedAt)).toEqual([1, 2, 3, 4]);
  });

  it('on close commits what is pending; if the store stays down, gives up at the deadline and rejects the rest', async () => {
    const store = fakeStore();
    const batcher = make(store);
    const committed = batcher.add(tenReadings(1), 1);
    await batcher.close(1000);
    await committed;
    expect(store.transactions).toHaveLength(1);

    const stuck = make(store);
    store.state.failing = new Error('disk I/O error');
    const lost = expect(stuck.add(batch([reading(1)], { device: DEVICE, boot: BOOT }), 1)).rejects.toThrow(
      /closed before the batch was committed/,
    );
    const closing = stuck.close(1000);
    await vi.advanceTimersByTimeAsync(1000);
    await closing;
    await lost;
    await expect(stuck.add(tenReadings(1), 2)).rejects.toThrow(/closed/);
  });
});
