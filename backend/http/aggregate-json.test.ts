import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { aggregatePageJson } from './aggregate-json.js';
import { ReadingsPage } from './schemas.js';

// The aggregate route writes its JSON itself; these pin it to what fastify's serializer of the
// documented schema writes, byte for byte, so the two cannot drift apart.
const app = Fastify();
let body: unknown;
app.get('/', { schema: { response: { 200: ReadingsPage } } }, () => body);
afterAll(() => app.close());

async function serializer(value: unknown): Promise<string> {
  body = value;
  return (await app.inject({ method: 'GET', url: '/' })).body;
}

describe('aggregatePageJson', () => {
  const head = { device: 'furnace-1', from: 0, to: 180_000, every: 60_000, agg: 'mean', source: 'rollup_1m' };
  const points = [
    { sensor: 'tc1', bucket: 0, value: 800.1, count: 60 },
    { sensor: 'tc2', bucket: 0, value: -0.000001234, count: 1 },
    { sensor: 'tc1', bucket: 60_000, value: 1e12, count: 59 },
    { sensor: 'tc1', bucket: 120_000, value: 0.1 + 0.2, count: 3 },
  ];
  const asServed = (sensor: string | undefined, items: typeof points, truncated: boolean, nextCursor?: string) => ({
    ...head,
    sensor,
    source: head.source,
    truncated,
    nextCursor,
    points: items.map(({ bucket, ...rest }) => ({ ...rest, t: bucket })),
  });

  it.each([
    ['every sensor, last page', undefined, false, undefined],
    ['one sensor, more to come', 'tc1', true, 'eyJrIjoiYWdnIn0'],
  ])('writes what the schema serializer writes: %s', async (_name, sensor, truncated, cursor) => {
    const items = sensor === undefined ? points : points.filter((p) => p.sensor === sensor);
    const text = aggregatePageJson({ ...head, sensor, truncated }, items, cursor);
    expect(text).toBe(await serializer(asServed(sensor, items, truncated, cursor)));
    expect(JSON.parse(text)).toMatchObject({ points: items.map((p) => ({ value: p.value, count: p.count })) });
  });

  it('writes band points with min and max, and an empty page', async () => {
    const band = [{ sensor: 'tc1', bucket: 0, value: 800, min: 790.25, max: 812.5, count: 60 }];
    const text = aggregatePageJson({ ...head, agg: 'band', sensor: 'tc1', truncated: false }, band, undefined);
    expect(text).toBe(
      await serializer({
        ...head,
        agg: 'band',
        sensor: 'tc1',
        truncated: false,
        points: [{ sensor: 'tc1', t: 0, value: 800, min: 790.25, max: 812.5, count: 60 }],
      }),
    );
    expect(aggregatePageJson({ ...head, sensor: undefined, truncated: false }, [], undefined)).toBe(
      await serializer({ ...head, truncated: false, points: [] }),
    );
  });
});
