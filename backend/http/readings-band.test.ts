import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../../test/helpers/backend-app.js';
import { DEVICE, T0, batch, reading } from '../../test/helpers/reading-store-fixtures.js';
import { bucketWidthFor } from './bucket-width.js';

interface BandBody {
  from: number;
  to: number;
  every: number;
  agg: string;
  source: string;
  points: Array<{ sensor: string; t: number; value: number; min?: number; max?: number; count: number }>;
  truncated: boolean;
  nextCursor?: string;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const url = (query: string) => `/api/v1/devices/${DEVICE}/readings?${query}`;

describe('bucketWidthFor: points=N picks a width a chart reads well', () => {
  it.each([
    [15 * MINUTE, 1000, SECOND],
    [HOUR, 1000, 5 * SECOND],
    [DAY, 1000, 2 * MINUTE],
    [7 * DAY, 1000, 10 * MINUTE],
    [30 * DAY, 1000, HOUR],
    [30 * DAY, 700, HOUR],
    [30 * DAY, 300, 2 * HOUR],
    [365 * DAY, 10, 37 * DAY],
  ])('%d ms in about %d points: %d ms buckets', (span, points, width) => {
    expect(bucketWidthFor(T0, T0 + span, points)).toBe(width);
    // About as many buckets as asked: at most half as many again.
    expect(Math.ceil(span / width)).toBeLessThanOrEqual(1.5 * points);
  });
});

describe('GET readings with points= and agg=band', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({ query: { maxRangeDays: 400, maxLimit: 500, defaultLimit: 100 } });
    // One reading a second for 10 minutes from T0, 800 °C with one 2-second spike to 1200 in minute 4.
    const rows = Array.from({ length: 600 }, (_, i) =>
      reading(i + 1, { ts: T0 + i * SECOND, value: i >= 245 && i < 247 ? 1200 : 800 + (i % 10) }),
    );
    await t.store.insertBatch(batch(rows), T0);
  });
  afterEach(() => t.close());

  const read = async (query: string) => {
    const response = await t.get(url(query));
    return { status: response.status, body: response.body as BandBody };
  };

  it('answers mean, min and max per bucket in one request, so a spike shorter than a bucket survives', async () => {
    const { status, body } = await read(`sensor=tc1&from=${T0}&to=${T0 + 10 * MINUTE}&points=10&agg=band`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ from: T0, to: T0 + 10 * MINUTE, every: MINUTE, agg: 'band', source: 'rollup_1m', truncated: false });
    expect(body.points).toHaveLength(10);
    const spiked = body.points[4];
    expect(spiked).toMatchObject({ sensor: 'tc1', t: T0 + 4 * MINUTE, min: 800, max: 1200, count: 60 });
    // Six of 800..809, with 805 and 806 replaced by the spike.
    expect(spiked?.value).toBeCloseTo((6 * 8045 - 805 - 806 + 2 * 1200) / 60, 6);
    for (const point of body.points) {
      expect(point.min).toBeLessThanOrEqual(point.value);
      expect(point.max).toBeGreaterThanOrEqual(point.value);
    }
    expect(body.points.filter((p) => p.max === 1200)).toHaveLength(1);
  });

  it('answers the same band from the raw readings as from the rollups', async () => {
    const raw = await read(`sensor=tc1&from=${T0}&to=${T0 + 10 * MINUTE}&every=30s&agg=band`);
    expect(raw.body.source).toBe('raw');
    expect(raw.body.points).toHaveLength(20);
    expect(raw.body.points.map((p) => p.max).filter((max) => max === 1200)).toHaveLength(1);
    expect(raw.body.points[8]).toMatchObject({ t: T0 + 4 * MINUTE, min: 800, max: 1200, count: 30 });
  });

  it('pages a band with a cursor like any aggregate', async () => {
    const first = await read(`from=${T0}&to=${T0 + 10 * MINUTE}&every=1m&agg=band&limit=4`);
    expect(first.body).toMatchObject({ truncated: true });
    expect(first.body.points.map((p) => p.t)).toEqual([0, 1, 2, 3].map((i) => T0 + i * MINUTE));
    const second = await read(`from=${T0}&to=${T0 + 10 * MINUTE}&every=1m&agg=band&limit=4&cursor=${first.body.nextCursor ?? ''}`);
    expect(second.body.points.map((p) => [p.t, p.max])).toEqual([
      [T0 + 4 * MINUTE, 1200],
      [T0 + 5 * MINUTE, 809],
      [T0 + 6 * MINUTE, 809],
      [T0 + 7 * MINUTE, 809],
    ]);
  });

  it('leaves min and max out of the other aggregates', async () => {
    const { body } = await read(`sensor=tc1&from=${T0}&to=${T0 + 10 * MINUTE}&points=4&agg=max`);
    expect(body.every).toBe(3 * MINUTE);
    expect(body.points[0]).toEqual({ sensor: 'tc1', t: T0, value: 809, count: 180 });
  });

  it.each([
    ['every and points together', `every=1m&points=100`, /^points: give every or points/],
    ['points=0', 'points=0', /^points: /],
    ['points past query.maxLimit', 'points=501', /^points: /],
    ['points that is not a number', 'points=many', /^points: /],
    ['agg=band without every or points', 'agg=band', /^agg: needs every/],
  ])('refuses %s with 400 naming the parameter', async (_what, query, message) => {
    const { status, body } = await t.get(url(query));
    expect(status).toBe(400);
    expect((body as { message: string }).message).toMatch(message);
  });
});
