import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type AlertsTestApp, READ_TOKEN, buildAlertsTestApp, transition } from '../../test/helpers/fake-alerts-service.js';
import { type TestApp, startTestApp } from '../../test/helpers/backend-app.js';
import { DEVICE, T0, batch, reading } from '../../test/helpers/reading-store-fixtures.js';
import { nonFinitePath } from './finite-numbers.js';

// Issue 13: numbers that the query string's coercion makes infinite. Each route family, each
// numeric parameter (and the times and durations, which are strings checked in time-params.ts),
// with the values an outsider tried.
const NOT_FINITE = ['Infinity', '-Infinity', '1e309', '-1e309', 'NaN'];
const anyString = expect.any(String) as string;

/** A 400 in the API's shape whose message names `parameter` first. */
function expectRefused(response: { status: number; body: unknown }, parameter: string): void {
  expect(response.body).toStrictEqual({ statusCode: 400, code: 'API_BAD_REQUEST', error: 'Bad Request', message: anyString });
  expect((response.body as { message: string }).message).toMatch(new RegExp(`^${parameter}: `));
  expect(response.status).toBe(400);
}

describe('numeric parameters must be finite: readings and gaps', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ query: { maxRangeDays: 400, maxLimit: 500, defaultLimit: 100 } });
    await t.store.insertBatch(batch([reading(1), reading(2), reading(5)]), T0);
  });
  afterAll(() => t.close());

  const readings = `/api/v1/devices/${DEVICE}/readings`;
  const cases = NOT_FINITE.flatMap((value) => [
    [`${readings}?limit=`, value, 'limit'],
    [`${readings}?every=1m&limit=`, value, 'limit'],
    [`${readings}?from=`, value, 'from'],
    [`${readings}?to=`, value, 'to'],
    [`${readings}?every=`, value, 'every'],
    [`/api/v1/devices/${DEVICE}/gaps?limit=`, value, 'limit'],
  ]);
  it.each(cases)('refuses %s%s with 400 naming %s', async (url, value, parameter) => {
    expectRefused(await t.get(`${url}${encodeURIComponent(value)}`), parameter);
  });

  it('says what is wrong with the number', async () => {
    expect((await t.get(`${readings}?limit=Infinity`)).body).toMatchObject({ message: 'limit: must be a finite number' });
    expect((await t.get(`${readings}?limit=NaN`)).body).toMatchObject({ message: 'limit: must be integer' });
  });

  it('still takes finite numbers, whatever their spelling', async () => {
    const page = await t.get(`${readings}?from=${T0}&to=${T0 + 60_000}&limit=1e1`);
    expect(page).toMatchObject({ status: 200, body: { readings: [{ seq: 1 }, { seq: 2 }, { seq: 5 }], truncated: false } });
    expect(await t.get(`/api/v1/devices/${DEVICE}/gaps?limit=2`)).toMatchObject({
      status: 200,
      body: { gaps: [{ fromSeq: 3, toSeq: 4 }] },
    });
  });
});

describe('numeric parameters must be finite: alerts, their stream and silences', () => {
  let t: AlertsTestApp;
  beforeAll(async () => {
    t = await buildAlertsTestApp();
    t.alerts.append(transition(1), transition(2));
  });
  afterAll(() => t.app.close());

  const get = async (url: string, headers: Record<string, string> = {}) => {
    const response = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${READ_TOKEN}`, ...headers } });
    return { status: response.statusCode, body: response.json<unknown>() };
  };

  const cases = NOT_FINITE.flatMap((value) => [
    ['/api/v1/alerts?limit=', value, 'limit'],
    ['/api/v1/alerts?from=', value, 'from'],
    ['/api/v1/alerts?to=', value, 'to'],
    ['/api/v1/alerts/stream?since=', value, 'since'],
    ['/api/v1/alerts/stream?lastEventId=', value, 'lastEventId'],
  ]);
  it.each(cases)('refuses %s%s with 400 naming %s', async (url, value, parameter) => {
    expectRefused(await get(`${url}${encodeURIComponent(value)}`), parameter);
  });

  it.each(NOT_FINITE)('refuses a Last-Event-ID header of %s on the alert stream', async (value) => {
    expectRefused(await get('/api/v1/alerts/stream', { 'last-event-id': value }), 'last-event-id');
  });

  it('refuses a time in a JSON body that overflows to Infinity (1e309), naming the field', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/silences',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      payload: '{ "matchers": { "rule": "overheat" }, "endsAt": 1e309 }',
    });
    expectRefused({ status: response.statusCode, body: response.json<unknown>() }, 'endsAt');
    expect(t.alerts.silenceList).toEqual([]);
  });

  it('still pages the history with a finite limit', async () => {
    const page = await get('/api/v1/alerts?limit=1');
    expect(page).toMatchObject({ status: 200, body: { items: [{ seq: 2 }], next: anyString } });
  });
});

describe('nonFinitePath', () => {
  it('finds the first non-finite number, at its JSON pointer, in objects and arrays', () => {
    expect(nonFinitePath({ limit: 5, from: 'Infinity' })).toBeUndefined();
    expect(nonFinitePath({ a: 1, b: [2, { 'c/d~e': Number.NEGATIVE_INFINITY }], z: Number.NaN })).toBe('/b/1/c~1d~0e');
    expect(nonFinitePath(Object.assign(Object.create(null) as object, { limit: Number.POSITIVE_INFINITY }))).toBe('/limit');
    // As fastify's query parser makes them: an instance of a class whose prototype has none.
    const emptyPrototype = Object.create(null) as object;
    expect(nonFinitePath(Object.assign(Object.create(emptyPrototype) as object, { since: Number.NEGATIVE_INFINITY }))).toBe('/since');
    expect(nonFinitePath(Buffer.from([1, 2]))).toBeUndefined();
    expect(nonFinitePath(Number.NaN)).toBe('');
  });

  it('walks a deeply nested body without running out of stack', () => {
    let deep: unknown = [Number.POSITIVE_INFINITY];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nonFinitePath(deep)?.length).toBe(2 * 200_001);
  });
});
