import { describe, expect, it, vi } from 'vitest';
import type { ReadingBatch } from '../../contract/index.js';
import type { IngestObserver, ReceivedReadings } from './ingest-observer.js';
import { JudgeQueue } from './judge-queue.js';

const batch = (seq: number): ReadingBatch => ({
  v: 1,
  device: 'f-1',
  boot: 'b1',
  readings: [{ seq, ts: seq, sensor: 'tc1', value: seq, unit: 'C', quality: 'good', clock: 'synced', replay: false }],
});

function observer(readingsMany?: (messages: readonly ReceivedReadings[]) => void): IngestObserver {
  return { readings: vi.fn(), ...(readingsMany ? { readingsMany } : {}), status: vi.fn(), statusCleared: vi.fn(), sensors: vi.fn() };
}

const seqs = (messages: readonly ReceivedReadings[]) => messages.map((m) => m.batch.readings[0]?.seq);

describe('judge queue: the readings messages of one turn judged together', () => {
  it('hands the messages of one turn over in one call, in arrival order, and settles each after it', async () => {
    const groups: Array<Array<number | undefined>> = [];
    const queue = new JudgeQueue(observer((messages) => groups.push(seqs(messages))));
    const settled: number[] = [];
    const all = [1, 2, 3].map((seq) => queue.judge(batch(seq), seq).then(() => settled.push(seq)));
    expect(groups).toEqual([]);
    await Promise.all(all);
    expect(groups).toEqual([[1, 2, 3]]);
    expect(settled).toEqual([1, 2, 3]);
    // The next turn is the next group.
    await queue.judge(batch(4), 4);
    expect(groups).toEqual([[1, 2, 3], [4]]);
  });

  it('fails every message of a group whose judging fails, so each is retried; the retries go together again', async () => {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const groups: Array<Array<number | undefined>> = [];
    let fail = true;
    const queue = new JudgeQueue(
      observer((messages) => {
        groups.push(seqs(messages));
        if (fail) throw busy;
      }),
    );
    const first = await Promise.allSettled([1, 2, 3].map((seq) => queue.judge(batch(seq), seq)));
    expect(first.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(first.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as Error) : undefined))).toEqual([busy, busy, busy]);
    fail = false;
    await Promise.all([1, 2, 3].map((seq) => queue.judge(batch(seq), seq)));
    expect(groups).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it('splits a turn past the group limit, and calls an observer without readingsMany once per message', async () => {
    const groups: Array<Array<number | undefined>> = [];
    const queue = new JudgeQueue(
      observer((messages) => groups.push(seqs(messages))),
      2,
    );
    await Promise.all([1, 2, 3].map((seq) => queue.judge(batch(seq), seq)));
    expect(groups).toEqual([[1, 2], [3]]);

    const readings = vi.fn((b: ReadingBatch) => {
      if (b.readings[0]?.seq === 2) throw new Error('only this one');
    });
    const plain = { ...observer(), readings };
    const outcomes = await Promise.allSettled([1, 2, 3].map((seq) => new JudgeQueue(plain).judge(batch(seq), seq)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(readings).toHaveBeenCalledTimes(3);
  });
});
