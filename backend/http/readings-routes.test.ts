import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../../test/helpers/backend-app.js';
import { BOOT, DEVICE, T0, batch, reading } from '../../test/helpers/reading-store-fixtures.js';

interface ReadingsBody {
  from: number;
  to: number;
  source: string;
  readings?: Array<{ seq: number; sensor: string; ts: number }>;
  points?: Array<{ sensor: string; t: number; value: number; count: number }>;
  truncated: boolean;
  nextCursor?: string;
}

const MINUTE = 60_000;
const url = (query: string) => `/api/v1/devices/${DEVICE}/readings?${query}`;

describe('GET /api/v1/devices/{device}/readings and /gaps', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({ query: { maxRangeDays: 400, maxLimit: 500, defaultLimit: 100 } });
    // Two sensors, one reading every 10 s for 10 minutes from T0 (a whole hour).
    const rows = Array.from({ length: 120 }, (_, i) =>
      reading(i + 1, { sensor: i % 2 ? 'tc2' : 'tc1', ts: T0 + Math.floor(i / 2) * 10_000, value: 800 + i }),
    );
    await t.store.insertBatch(batch(rows), T0);
  });
  afterEach(() => t.close());

  const read = async (query: string) => {
    const response = await t.get(url(query));
    return { status: response.status, body: response.body as ReadingsBody };
  };

  it('answers raw readings of one sensor in [from, to), times given as RFC 3339 or Unix ms alike', async () => {
    const iso = await read(
      `sensor=tc1&from=${new Date(T0).toISOString()}&to=${encodeURIComponent(new Date(T0 + MINUTE).toISOString().replace('Z', '+00:00'))}`,
    );
    const ms = await read(`sensor=tc1&from=${T0}&to=${T0 + MINUTE}`);
    expect(iso.status).toBe(200);
    expect(iso.body).toEqual(ms.body);
    expect(ms.body).toMatchObject({ device: DEVICE, sensor: 'tc1', from: T0, to: T0 + MINUTE, source: 'raw', truncated: false });
    expect(ms.body.readings?.map((r) => r.ts)).toEqual([0, 1, 2, 3, 4, 5].map((i) => T0 + i * 10_000));
    expect(ms.body.nextCursor).toBeUndefined();
  });

  it('pages raw readings: a truncated page says so and gives the cursor of the next', async () => {
    const seen: number[] = [];
    let cursor = '';
    for (let pages = 1; ; pages++) {
      const { status, body } = await read(`from=${T0}&to=${T0 + 10 * MINUTE}&limit=50${cursor}`);
      expect(status).toBe(200);
      seen.push(...(body.readings ?? []).map((r) => r.seq));
      if (!body.truncated) {
        expect(pages).toBe(3);
        expect(body.nextCursor).toBeUndefined();
        break;
      }
      expect(body.readings).toHaveLength(50);
      cursor = `&cursor=${body.nextCursor ?? ''}`;
    }
    expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
  });

  it('aggregates per minute from the minute rollups, with whole buckets', async () => {
    const { status, body } = await read(`sensor=tc2&from=${T0 + 30_000}&to=${T0 + 2 * MINUTE + 1}&every=1m&agg=max`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ from: T0, to: T0 + 3 * MINUTE, every: MINUTE, agg: 'max', source: 'rollup_1m', truncated: false });
    expect(body.points).toEqual([
      { sensor: 'tc2', t: T0, value: 811, count: 6 },
      { sensor: 'tc2', t: T0 + MINUTE, value: 823, count: 6 },
      { sensor: 'tc2', t: T0 + 2 * MINUTE, value: 835, count: 6 },
    ]);
    const raw = await read(`sensor=tc2&from=${T0}&to=${T0 + 3 * MINUTE}&every=30s&agg=count`);
    expect(raw.body.source).toBe('raw');
    expect(raw.body.points?.map((p) => p.count)).toEqual([3, 3, 3, 3, 3, 3]);
  });

  it('keeps absurd values (past ±1e12) out of aggregates, so a minute with three of ±1.7e308 still has a mean; raw, they are answered as stored', async () => {
    const start = T0 + 20 * MINUTE;
    const absurd = [1.7e308, 1.7e308, -1.7e308].map((value, i) => reading(300 + i, { ts: start + i * 1000, value }));
    await t.store.insertBatch(
      batch([...absurd, reading(303, { ts: start + 5000, value: 700 }), reading(304, { ts: start + 6000, value: 710 })]),
      T0,
    );
    // The hour also holds the 60 tc1 readings of beforeEach: 800, 802, ... 918.
    const hourMean = (60 * 859 + 700 + 710) / 62;
    for (const [every, agg, t0, value, count] of [
      ['1m', 'mean', start, 705, 2],
      ['1m', 'min', start, 700, 2],
      ['1m', 'max', start, 710, 2],
      ['1m', 'count', start, 2, 2],
      ['1h', 'mean', T0, hourMean, 62],
      ['1h', 'max', T0, 918, 62],
    ] as const) {
      const { status, body } = await read(`sensor=tc1&from=${start}&to=${start + MINUTE}&every=${every}&agg=${agg}`);
      expect({ every, agg, status, points: body.points }).toEqual({
        every,
        agg,
        status: 200,
        points: [{ sensor: 'tc1', t: t0, value, count }],
      });
    }
    const raw = await t.get(url(`sensor=tc1&from=${start}&to=${start + MINUTE}`));
    expect((raw.body as { readings: Array<{ value: number }> }).readings.map((r) => r.value)).toEqual([
      1.7e308, 1.7e308, -1.7e308, 700, 710,
    ]);
  });

  it('pages aggregates over every sensor with a cursor, and refuses a cursor replayed on another query', async () => {
    const first = await read(`from=${T0}&to=${T0 + 10 * MINUTE}&every=1m&agg=mean&limit=7`);
    expect(first.body.points).toHaveLength(7);
    expect(first.body.truncated).toBe(true);
    const second = await read(`from=${T0}&to=${T0 + 10 * MINUTE}&every=1m&agg=mean&limit=7&cursor=${first.body.nextCursor ?? ''}`);
    expect(second.body.points?.[0]).toMatchObject({ sensor: 'tc2', t: T0 + 3 * MINUTE });
    const other = await t.get(url(`from=${T0}&to=${T0 + 10 * MINUTE}&every=1m&agg=max&cursor=${first.body.nextCursor ?? ''}`));
    expect(other).toMatchObject({ status: 400, body: { code: 'API_BAD_REQUEST', message: expect.stringMatching(/^cursor: /) as string } });
  });

  it.each([
    ['from after to', `from=${T0 + MINUTE}&to=${T0}`, /^from: /],
    ['from equal to to', `from=${T0}&to=${T0}`, /^from: /],
    ['every=0', `from=${T0}&to=${T0 + MINUTE}&every=0`, /^every: /],
    ['every=0s', `every=0s`, /^every: /],
    ['every under a second', 'every=500ms', /^every: /],
    ['every in an unknown unit', 'every=1fortnight', /^every: /],
    ['a 50-year range', `from=1990-01-01T00:00:00Z&to=2040-01-01T00:00:00Z`, /^from: the range .* 18262 days/],
    ['limit=0', 'limit=0', /^limit: /],
    ['a limit past query.maxLimit', 'limit=100000', /^limit: /],
    ['a limit that is not a number', 'limit=ten', /^limit: /],
    ['an unknown aggregate', 'every=1m&agg=median', /^agg: /],
    ['agg without every', 'agg=max', /^agg: needs every/],
    ['a time in words', 'from=yesterday', /^from: /],
    ['a day that does not exist', 'to=2025-02-30T00:00:00Z', /^to: /],
    ['a time past the largest date', 'to=99999999999999999', /^to: /],
    ['SQL in sensor', `sensor=${encodeURIComponent("tc1' OR '1'='1")}`, /^sensor: /],
    ['SQL in from', `from=${encodeURIComponent('1; DROP TABLE readings; --')}`, /^from: /],
    ['SQL in every', `every=${encodeURIComponent('1m) UNION SELECT * FROM latest --')}`, /^every: /],
    ['a forged cursor', `cursor=${Buffer.from('{"k":"raw","p":{"ts":"1 OR 1=1"}}').toString('base64url')}`, /^cursor: /],
    ['a cursor that is not base64url', `cursor=${encodeURIComponent('abc$')}`, /^cursor: /],
    ['an unknown parameter', 'order=desc', /^querystring: unknown parameter "order"/],
  ])('refuses %s with 400 naming the parameter', async (_what, query, message) => {
    const { status, body } = await t.get(url(query));
    expect(body).toMatchObject({ statusCode: 400, code: 'API_BAD_REQUEST', error: 'Bad Request' });
    expect(status).toBe(400);
    expect((body as { message: string }).message).toMatch(message);
    // Nothing of it reached SQL: the data is all there.
    expect((await t.store.readings(DEVICE)).length).toBe(120);
  });

  it('reports the gaps of a device, per boot, paged', async () => {
    await t.store.insertBatch(batch([reading(200), reading(210), reading(220)]), T0);
    await t.store.insertBatch(batch([reading(1), reading(5)], { boot: 'B2' }), T0);
    const first = await t.get(`/api/v1/devices/${DEVICE}/gaps?limit=2`);
    expect(first).toMatchObject({ status: 200, body: { device: DEVICE, truncated: true } });
    const body = first.body as { gaps: unknown[]; nextCursor: string };
    expect(body.gaps).toEqual([
      { boot: BOOT, fromSeq: 121, toSeq: 199, missing: 79, afterTs: T0 + 590_000, beforeTs: reading(200).ts },
      { boot: BOOT, fromSeq: 201, toSeq: 209, missing: 9, afterTs: reading(200).ts, beforeTs: reading(210).ts },
    ]);
    const rest = await t.get(`/api/v1/devices/${DEVICE}/gaps?limit=2&cursor=${body.nextCursor}`);
    expect((rest.body as { gaps: Array<{ boot: string; fromSeq: number }> }).gaps.map((g) => [g.boot, g.fromSeq])).toEqual([
      [BOOT, 211],
      ['B2', 2],
    ]);
    const b2 = await t.get(`/api/v1/devices/${DEVICE}/gaps?boot=B2`);
    expect((b2.body as { gaps: Array<{ missing: number }> }).gaps.map((g) => g.missing)).toEqual([3]);
  });
});
