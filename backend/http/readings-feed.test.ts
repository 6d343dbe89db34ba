import { describe, expect, it } from 'vitest';
import { FakeReadingsFeed, storedReading } from '../../test/helpers/fake-alerts-service.js';
import { type FeedEntry, ReadingsFeed, type ReadingsFeedLimits } from './readings-feed.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const positions = (entries: readonly FeedEntry[] | undefined) => entries?.map((entry) => entry.n);

function setup(limits: ReadingsFeedLimits = {}) {
  const source = new FakeReadingsFeed();
  const errors: Array<{ fields: object; message: string }> = [];
  const feed = new ReadingsFeed(source.subscribe, {
    epoch: 'run1',
    ...limits,
    log: { error: (fields, message) => void errors.push({ fields, message }) },
  });
  const publish = (device: string, ...seqs: number[]) =>
    source.publish(
      device,
      seqs.map((seq) => storedReading(device, seq)),
    );
  return { source, feed, errors, publish };
}

describe('ReadingsFeed', () => {
  it('numbers the readings of every device in the order stored, and reads them back after a position, a page at a time', () => {
    const { feed, publish } = setup();
    expect([feed.position, feed.size, feed.after(0, 10)]).toEqual([0, 0, []]);
    publish('furnace-1', 1, 2);
    publish('annealer', 1);
    publish('furnace-1', 3);
    expect(feed.position).toBe(4);
    expect(feed.after(0, 10)?.map((entry) => `${entry.n}:${entry.reading.device}/${entry.reading.seq}`)).toEqual([
      '1:furnace-1/1',
      '2:furnace-1/2',
      '3:annealer/1',
      '4:furnace-1/3',
    ]);
    expect([positions(feed.after(1, 2)), positions(feed.after(3, 2)), positions(feed.after(4, 2))]).toEqual([[2, 3], [4], []]);
    // Past the newest: not a position of this run.
    expect(feed.after(5, 2)).toBeUndefined();
    expect(feed.idOf(4)).toBe('run1-4');
  });

  it('keeps at most maxReadings, the newest, and says when a position is no longer held', () => {
    const { feed, publish } = setup({ maxReadings: 3 });
    publish('furnace-1', ...range(1, 5));
    // One batch larger than the whole window keeps its newest readings.
    publish('annealer', ...range(1, 4));
    expect([feed.position, feed.size]).toEqual([9, 3]);
    expect(feed.after(5, 10)).toBeUndefined();
    expect(positions(feed.after(6, 10))).toEqual([7, 8, 9]);
    expect(feed.resumeFrom('run1-6')).toEqual({ kind: 'resume', after: 6 });
    expect(feed.resumeFrom('run1-2')).toEqual({
      kind: 'reset',
      reason: 'expired',
      after: 6,
      since: storedReading('annealer', 2).receivedAt,
    });
  });

  it('drops readings older than maxAgeMs by its clock; the newest position resumes even with nothing held', () => {
    let now = 1_000;
    const { feed, publish } = setup({ maxAgeMs: 100, now: () => now });
    publish('furnace-1', 1, 2);
    now = 1_050;
    publish('furnace-1', 3);
    now = 1_100;
    expect(feed.size).toBe(3);
    now = 1_101;
    expect([feed.size, feed.after(1, 10), positions(feed.after(2, 10))]).toEqual([1, undefined, [3]]);
    now = 1_151;
    expect([feed.size, feed.position]).toEqual([0, 3]);
    expect(feed.resumeFrom('run1-3')).toEqual({ kind: 'resume', after: 3 });
    expect(feed.resumeFrom('run1-2')).toEqual({ kind: 'reset', reason: 'expired', after: 3, since: 1_151 });
    // The ring keeps working once emptied and wrapped.
    publish('furnace-1', 4);
    expect(positions(feed.after(3, 10))).toEqual([4]);
  });

  it.each([
    ['of another run', 'run0-1'],
    ['past the newest position', 'run1-3'],
    ['not of the form <epoch>-<n>', 'furnace-1/01JBOOTA/3'],
    ['empty', ''],
  ])('resets an id %s as restarted, from the oldest reading held', (_what, id) => {
    const { feed, publish } = setup();
    publish('furnace-1', 1, 2);
    expect(feed.resumeFrom(id)).toEqual({ kind: 'reset', reason: 'restarted', after: 0, since: storedReading('furnace-1', 1).receivedAt });
  });

  it('makes an epoch of its own, different per feed', () => {
    const make = () => new ReadingsFeed(new FakeReadingsFeed().subscribe, { log: { error: () => undefined } }).epoch;
    const [a, b] = [make(), make()];
    expect(a).toMatch(/^[0-9a-z]+$/);
    expect(a).not.toBe(b);
  });

  it('hands each batch to its subscribers, numbered and already held; one that throws is logged and the others still get it', () => {
    const { source, feed, errors, publish } = setup();
    const seen: number[][] = [];
    feed.subscribe(() => {
      throw new Error('a broken stream');
    });
    const unsubscribe = feed.subscribe((entries) => {
      seen.push(entries.map((entry) => entry.n));
      expect(positions(feed.after(entries[0]!.n - 1, 10))).toEqual(positions(entries));
    });
    publish('furnace-1', 1, 2);
    unsubscribe();
    publish('furnace-1', 3);
    expect(seen).toEqual([[1, 2]]);
    expect(errors).toEqual([
      { fields: expect.objectContaining({ component: 'http:readings-feed' }) as object, message: 'a readings stream failed on a batch' },
      { fields: expect.objectContaining({ component: 'http:readings-feed' }) as object, message: 'a readings stream failed on a batch' },
    ]);
    expect(source.listenerCount).toBe(1);
    feed.close();
    expect(source.listenerCount).toBe(0);
  });

  it('refuses a window of no readings', () => {
    expect(() => setup({ maxReadings: 0 })).toThrow(RangeError);
  });
});
