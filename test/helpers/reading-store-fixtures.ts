// Data and paging helpers shared by the ReadingStore contract suites and the backend tests.
import type { AggregatePoint, AggregateQuery, RawQuery, ReadingStore, StoredReading } from '../../backend/store/reading-store.js';
import type { Reading, ReadingBatch } from '../../contract/index.js';

export const DEVICE = 'furnace-1';
export const BOOT = '01JBOOTA';
/** A whole hour, so minute and hour buckets start exactly here. */
export const T0 = 1_764_338_400_000;

export function reading(seq: number, overrides: Partial<Reading> = {}): Reading {
  return {
    seq,
    ts: T0 + seq * 1000,
    sensor: 'tc1',
    value: 800 + seq,
    unit: 'C',
    quality: 'good',
    clock: 'synced',
    replay: false,
    ...overrides,
  };
}

export function batch(readings: Reading[], overrides: Partial<Omit<ReadingBatch, 'readings'>> = {}): ReadingBatch {
  return { v: 1, device: DEVICE, boot: BOOT, readings, ...overrides };
}

/** Every page of a raw query, following the cursor. */
export async function allRaw(store: ReadingStore, query: Omit<RawQuery, 'after'>): Promise<{ rows: StoredReading[]; pages: number }> {
  const rows: StoredReading[] = [];
  let after: RawQuery['after'];
  for (let pages = 1; ; pages++) {
    const page = await store.rawRange({ ...query, after });
    rows.push(...page.items);
    if (!page.truncated) return { rows, pages };
    after = page.next;
  }
}

/** Every page of an aggregate query, following the cursor. */
export async function allBuckets(store: ReadingStore, query: Omit<AggregateQuery, 'after'>): Promise<AggregatePoint[]> {
  const points: AggregatePoint[] = [];
  let after: AggregateQuery['after'];
  for (let pages = 1; pages < 10_000; pages++) {
    const page = await store.aggregate({ ...query, after });
    points.push(...page.items);
    if (!page.truncated) return points;
    after = page.next;
  }
  throw new Error('aggregate paging did not end');
}
