import type { AggregatePage, AggregatePosition, AggregateQuery, Page, QueryOptions, ReadingStore } from '../store/reading-store.js';

// `agg=band`: mean, min and max of each bucket in one answer, so a chart draws the mean as a
// line and min..max as a band, and a 30-day view still shows a 5-second spike. Built at the
// route layer from three `aggregate()` calls, so every ReadingStore engine answers it unchanged.

export interface BandPoint {
  sensor: string;
  bucket: number;
  /** The mean of the bucket. */
  value: number;
  min: number;
  max: number;
  count: number;
}

export interface BandPage extends Page<BandPoint, AggregatePosition> {
  source: AggregatePage['source'];
}

const keyOf = (point: { bucket: number; sensor: string }) => `${point.bucket}\u0000${point.sensor}`;

/**
 * The three aggregates over the same buckets. Each leaves out exactly the buckets without an
 * aggregatable value, so the three pages hold the same buckets and page alike; the mean's page
 * gives the order, the truncation and the cursor.
 */
export async function aggregateBand(store: ReadingStore, query: Omit<AggregateQuery, 'agg'>, options: QueryOptions): Promise<BandPage> {
  const [mean, min, max] = (await Promise.all(
    (['mean', 'min', 'max'] as const).map((agg) => store.aggregate({ ...query, agg }, options)),
  )) as [AggregatePage, AggregatePage, AggregatePage];
  const mins = new Map(min.items.map((point) => [keyOf(point), point.value]));
  const maxes = new Map(max.items.map((point) => [keyOf(point), point.value]));
  const items = mean.items.map(({ sensor, bucket, value, count }) => {
    const key = keyOf({ bucket, sensor });
    // A bucket missing from one page (a reading committed between the calls) falls back to the mean: never a hole.
    return { sensor, bucket, value, min: Math.min(mins.get(key) ?? value, value), max: Math.max(maxes.get(key) ?? value, value), count };
  });
  return { items, truncated: mean.truncated, next: mean.next, source: mean.source };
}
