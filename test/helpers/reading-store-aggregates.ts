// The aggregate part of the ReadingStore contract: every aggregate, at widths that a store may
// answer from raw readings or from rollups, checked against the same sums done here in memory.
import { expect, it } from 'vitest';
import type { Aggregate, AggregatePoint, ReadingStore } from '../../backend/store/reading-store.js';
import { AGGREGATES } from '../../backend/store/reading-store.js';
import type { Reading } from '../../contract/index.js';
import type { StoreFixtureOptions } from './reading-store-contract.js';
import { DEVICE, T0, allBuckets, batch, reading } from './reading-store-fixtures.js';

const HOUR = 3_600_000;

/** Two sensors, one reading each per 10 s for three hours; every 50th of tc1 is a bad reading. */
function sampleReadings(): Reading[] {
  const rows: Reading[] = [];
  for (let i = 0; i < 1080; i++) {
    const ts = T0 + i * 10_000;
    const bad = i % 50 === 7;
    rows.push(reading(2 * i + 1, { ts, sensor: 'tc1', value: bad ? null : 800 + (i % 37) * 0.5, quality: bad ? 'bad' : 'good' }));
    rows.push(reading(2 * i + 2, { ts, sensor: 'tc2', value: 600 + (i % 11) }));
  }
  return rows;
}

/** The expected answer, computed naively. */
function expected(rows: Reading[], every: number, agg: Aggregate, from: number, to: number): AggregatePoint[] {
  const groups = new Map<string, Reading[]>();
  for (const row of rows) {
    if (row.value === null || row.ts < from || row.ts >= to) continue;
    const bucket = row.ts - (row.ts % every);
    const key = `${String(bucket).padStart(16, '0')} ${row.sensor}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.keys()].sort().map((key) => {
    const group = groups.get(key) ?? [];
    const values = group.map((row) => row.value ?? 0);
    const value = {
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      count: values.length,
      last: [...group].sort((a, b) => a.ts - b.ts).pop()?.value ?? 0,
    }[agg];
    const first = group[0] as Reading;
    return { sensor: first.sensor, bucket: first.ts - (first.ts % every), value, count: values.length };
  });
}

function expectSame(actual: AggregatePoint[], wanted: AggregatePoint[]): void {
  expect(actual.map(({ sensor, bucket, count }) => ({ sensor, bucket, count }))).toEqual(
    wanted.map(({ sensor, bucket, count }) => ({ sensor, bucket, count })),
  );
  actual.forEach((point, i) => expect(point.value).toBeCloseTo(wanted[i]?.value ?? Number.NaN, 6));
}

export function describeAggregateContract(fresh: (options?: StoreFixtureOptions) => Promise<ReadingStore>): void {
  it.each([
    ['30 s', 30_000],
    ['1 min', 60_000],
    ['5 min', 300_000],
    ['1 h', HOUR],
  ])('aggregates every %s, each aggregate equal to the naive sums and to the raw readings', async (_label, every) => {
    const store = await fresh();
    const rows = sampleReadings();
    for (let i = 0; i < rows.length; i += 500) await store.insertBatch(batch(rows.slice(i, i + 500)), T0);
    const to = T0 + 3 * HOUR;
    for (const agg of AGGREGATES) {
      const query = { device: DEVICE, from: T0, to, every, agg, limit: 100_000 };
      const page = await store.aggregate(query);
      expect(page.truncated).toBe(false);
      expectSame(page.items, expected(rows, every, agg, T0, to));
      expectSame((await store.aggregate({ ...query, source: 'raw' })).items, page.items);
      const oneSensor = await store.aggregate({ ...query, sensor: 'tc2' });
      expectSame(
        oneSensor.items,
        expected(
          rows.filter((r) => r.sensor === 'tc2'),
          every,
          agg,
          T0,
          to,
        ),
      );
    }
  });

  it('pages aggregates with a cursor: the pages together are the whole answer, with nothing twice', async () => {
    const store = await fresh();
    const rows = sampleReadings();
    for (let i = 0; i < rows.length; i += 500) await store.insertBatch(batch(rows.slice(i, i + 500)), T0);
    for (const every of [30_000, 60_000]) {
      const query = { device: DEVICE, from: T0, to: T0 + 3 * HOUR, every, agg: 'max' as const };
      const whole = (await store.aggregate({ ...query, limit: 100_000 })).items;
      const first = await store.aggregate({ ...query, limit: 7 });
      expect(first.items).toHaveLength(7);
      expect(first.truncated).toBe(true);
      for (const limit of [1, 7, 100]) expectSame(await allBuckets(store, { ...query, limit }), whole);
    }
  });

  it('keeps values past ±1e12 out of every aggregate, minute and hour, rollup and raw, yet stores them', async () => {
    const store = await fresh();
    const huge = [1.7e308, 1.7e308, -1.7e308];
    // Absurd values among normal ones in the first minute; the second batch's -1.7e308 pair would make a rollup sum +Inf + -Inf.
    await store.insertBatch(
      batch([...huge.map((value, i) => reading(i + 1, { value })), reading(4, { value: 800 }), reading(5, { value: 810 })]),
      T0,
    );
    await store.insertBatch(
      batch([reading(6, { value: -1.7e308 }), reading(7, { value: -1.7e308 }), reading(8, { ts: T0 + 61_000, value: 1e12 + 1 })]),
      T0,
    );
    await store.insertBatch(batch([reading(9, { ts: T0 + 62_000, value: 820 })]), T0);
    const answers: Record<Aggregate, [number, number]> = {
      mean: [805, 820],
      min: [800, 820],
      max: [810, 820],
      last: [810, 820],
      count: [2, 1],
    };
    for (const agg of AGGREGATES) {
      for (const source of ['auto', 'raw'] as const) {
        const minutes = await store.aggregate({ device: DEVICE, from: T0, to: T0 + HOUR, every: 60_000, agg, limit: 10, source });
        expect({ agg, source, points: minutes.items }).toEqual({
          agg,
          source,
          points: [
            { sensor: 'tc1', bucket: T0, value: answers[agg][0], count: 2 },
            { sensor: 'tc1', bucket: T0 + 60_000, value: answers[agg][1], count: 1 },
          ],
        });
        const hour = await store.aggregate({ device: DEVICE, from: T0, to: T0 + HOUR, every: HOUR, agg, limit: 10, source });
        const whole = { mean: (800 + 810 + 820) / 3, min: 800, max: 820, last: 820, count: 3 }[agg];
        expect({ agg, source, points: hour.items }).toEqual({
          agg,
          source,
          points: [{ sensor: 'tc1', bucket: T0, value: whole, count: 3 }],
        });
      }
    }
    // Stored as sent, and answered as raw readings.
    expect((await store.readings(DEVICE)).map((r) => r.value)).toEqual([...huge, 800, 810, -1.7e308, -1.7e308, 1e12 + 1, 820]);
  });

  it('leaves empty buckets out and skips long empty stretches without empty pages', async () => {
    const store = await fresh();
    const day = 24 * HOUR;
    await store.insertBatch(
      batch([reading(1, { ts: T0 + 5000 }), reading(2, { ts: T0 + 20 * day + 5000 }), reading(3, { ts: T0 + 20 * day + 9000 })]),
      T0,
    );
    for (const every of [1000, 60_000]) {
      const query = { device: DEVICE, from: T0, to: T0 + 30 * day, every, agg: 'count' as const, limit: 10 };
      const first = await store.aggregate(query);
      expect(first.items.map((p) => [p.bucket, p.count])).toEqual([[T0 + (every === 1000 ? 5000 : 0), 1]]);
      const points = await allBuckets(store, query);
      const buckets = every === 1000 ? [T0 + 5000, T0 + 20 * day + 5000, T0 + 20 * day + 9000] : [T0, T0 + 20 * day];
      expect(points.map((p) => p.bucket)).toEqual(buckets);
    }
    const none = await store.aggregate({ device: DEVICE, from: T0 + day, to: T0 + 2 * day, every: 60_000, agg: 'mean', limit: 10 });
    expect(none).toMatchObject({ items: [], truncated: false });
  });
}
