import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Reading, ReadingBatch } from '../../contract/index.js';
import { ADMIN_TOKEN, type TestApp, startTestApp } from '../../test/helpers/backend-app.js';

const DEVICE = 'furnace-1';
const NOW = 1764340000000;

function reading(seq: number, overrides: Partial<Reading> = {}): Reading {
  return { seq, ts: NOW - 5000, sensor: 'tc1', value: 812.5, unit: 'C', quality: 'good', clock: 'synced', replay: false, ...overrides };
}

function batch(readings: Reading[], device = DEVICE): ReadingBatch {
  return { v: 1, device, boot: '01JBOOTA', readings };
}

const anyString = expect.any(String) as string;

describe('buildApp (HTTP query API): devices, probes, errors', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await t.close();
  });

  it('lists no devices at first, then each device with its counts and status', async () => {
    expect(await t.get('/api/v1/devices')).toMatchObject({ status: 200, body: { devices: [] } });
    await t.store.insertBatch(batch([reading(1), reading(2)]), NOW - 1000);
    t.registry.putStatus({ v: 1, device: 'annealer', state: 'online', ts: NOW - 50, agentVersion: '1.2.3' }, NOW);
    expect((await t.get('/api/v1/devices')).body).toEqual({
      devices: [
        { device: 'annealer', firstSeen: null, lastSeen: null, readings: 0, state: 'online' },
        { device: DEVICE, firstSeen: NOW - 1000, lastSeen: NOW - 1000, readings: 2, state: null },
      ],
    });
  });

  it('answers the latest reading of each sensor with its age', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    await t.store.insertBatch(
      batch([
        reading(1, { ts: NOW - 9000, value: 800 }),
        reading(2, { ts: NOW - 5000 }),
        reading(3, { sensor: 'tc2', ts: NOW - 250, value: null, quality: 'bad' }),
      ]),
      NOW - 100,
    );
    const { status, body, headers } = await t.get(`/api/v1/devices/${DEVICE}/latest`);
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^application\/json/);
    expect(body).toEqual({
      device: DEVICE,
      readings: [
        { ...reading(2, { ts: NOW - 5000 }), boot: '01JBOOTA', receivedAt: NOW - 100, ageMs: 5000, ageFrom: 'ts' },
        {
          ...reading(3, { sensor: 'tc2', ts: NOW - 250, value: null, quality: 'bad' }),
          boot: '01JBOOTA',
          receivedAt: NOW - 100,
          ageMs: 250,
          ageFrom: 'ts',
        },
      ],
    });
  });

  it('never lets a reading stamped far in the future take over /latest or the device page: it counts as taken when it arrived', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const century = 100 * 365 * 86_400_000;
    const latest = async () =>
      ((await t.get(`/api/v1/devices/${DEVICE}/latest`)).body as { readings: Array<Record<string, unknown>> }).readings;
    const sensor = async () =>
      ((await t.get(`/api/v1/devices/${DEVICE}`)).body as { sensors: Array<{ latest: Record<string, unknown>; stale: boolean }> })
        .sensors[0];
    await t.store.insertBatch(batch([reading(1, { ts: NOW - 5000, value: 800 })]), NOW - 4000);
    // A Pi that booted with its clock a century ahead: the value is real, its stamp is not.
    await t.store.insertBatch(batch([reading(2, { ts: NOW + century, value: 801, clock: 'unsynced' })]), NOW - 2000);
    vi.setSystemTime(NOW);
    expect(await latest()).toMatchObject([{ seq: 2, value: 801, ts: NOW + century, ageMs: 2000, ageFrom: 'receivedAt' }]);
    expect(await sensor()).toMatchObject({ latest: { seq: 2, ageMs: 2000, ageFrom: 'receivedAt' }, stale: false });
    // Later arrivals take over, whatever their stamp.
    await t.store.insertBatch(batch([reading(3, { ts: NOW - 1000, value: 802 })]), NOW - 500);
    expect(await latest()).toMatchObject([{ seq: 3, value: 802, ageMs: 1000, ageFrom: 'ts' }]);
    // And if nothing comes any more, the future-stamped reading goes stale like any other (staleAfterMs is 60 s).
    await t.store.insertBatch(batch([reading(4, { ts: NOW + century + 1000, value: 803, clock: 'unsynced' })]), NOW);
    vi.setSystemTime(NOW + 61_000);
    expect(await sensor()).toMatchObject({ latest: { seq: 4, ageMs: 61_000, ageFrom: 'receivedAt' }, stale: true });
    // Nothing was lost: both future-stamped readings are stored with the stamp they came with.
    expect((await t.store.readings(DEVICE)).map((r) => [r.seq, r.ts])).toEqual([
      [1, NOW - 5000],
      [2, NOW + century],
      [3, NOW - 1000],
      [4, NOW + century + 1000],
    ]);
  });

  it('describes one device: status, announced sensors with health, last reading and staleness', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    await t.store.insertBatch(batch([reading(1, { ts: NOW - 2000 }), reading(2, { sensor: 'tc2', ts: NOW - 120_000 })]), NOW - 1000);
    const sensors = [
      { id: 'tc1', unit: 'C', min: 0, max: 1300 },
      { id: 'tc3', unit: 'C' },
    ];
    t.registry.putStatus(
      { v: 1, device: DEVICE, state: 'online', ts: NOW - 60_000, boot: '01JBOOTA', agentVersion: '0.1.0', sensors },
      NOW - 59_000,
    );
    t.registry.putSensorsHealth({
      v: 1,
      device: DEVICE,
      ts: NOW - 10,
      sensors: [{ sensor: 'tc3', state: 'disconnected', since: NOW - 30_000, reason: 'no reply' }],
    });
    const { status, body } = await t.get(`/api/v1/devices/${DEVICE}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      device: DEVICE,
      readings: 2,
      status: { state: 'online', ts: NOW - 60_000, receivedAt: NOW - 59_000, boot: '01JBOOTA', agentVersion: '0.1.0' },
      sensors: [
        { sensor: 'tc1', unit: 'C', min: 0, max: 1300, health: null, latest: { seq: 1, ageMs: 2000 }, stale: false },
        { sensor: 'tc2', unit: 'C', health: null, latest: { seq: 2, ageMs: 120_000 }, stale: true },
        { sensor: 'tc3', unit: 'C', health: { state: 'disconnected', since: NOW - 30_000, reason: 'no reply' }, latest: null, stale: true },
      ],
    });
  });

  it('answers an unknown device with 404 API_DEVICE_NOT_FOUND naming the parameter, on every device route', async () => {
    await t.store.insertBatch(batch([reading(1)]), NOW);
    for (const url of [
      '/api/v1/devices/furnace-2',
      '/api/v1/devices/furnace-2/latest',
      '/api/v1/devices/furnace-2/readings',
      '/api/v1/devices/furnace-2/gaps',
    ]) {
      const { status, body } = await t.get(url);
      expect({ url, status }).toEqual({ url, status: 404 });
      expect(body).toStrictEqual({ statusCode: 404, code: 'API_DEVICE_NOT_FOUND', error: 'Not Found', message: anyString });
      expect((body as { message: string }).message).toMatch(/^device: .*furnace-2/);
    }
  });

  it.each([
    ['a space', 'bad%20id'],
    ['65 characters', 'a'.repeat(65)],
    ['a dot', 'furnace.1'],
    ['a quote and SQL', "x'%20OR%20'1'='1"],
    ['101 characters (past the router limit)', 'a'.repeat(101)],
    ['a broken percent-encoding', '%E0%A4%A'],
  ])('refuses a device id with %s with 400 API_BAD_REQUEST', async (_what, id) => {
    const { status, body } = await t.get(`/api/v1/devices/${id}/latest`);
    expect(status).toBe(400);
    expect(body).toStrictEqual({ statusCode: 400, code: 'API_BAD_REQUEST', error: 'Bad Request', message: anyString });
  });

  it('takes a device id of exactly 64 characters (an unknown one: 404, not 400)', async () => {
    expect(await t.get(`/api/v1/devices/${'a'.repeat(64)}/latest`)).toMatchObject({ status: 404, body: { code: 'API_DEVICE_NOT_FOUND' } });
  });

  it('answers an unknown route with 404 API_ROUTE_NOT_FOUND, token or not', async () => {
    const expected = { statusCode: 404, code: 'API_ROUTE_NOT_FOUND', error: 'Not Found', message: 'no route GET /api/v1/nothing-here' };
    expect(await t.get('/api/v1/nothing-here?x=1')).toMatchObject({ status: 404, body: expected });
    expect(await t.get('/api/v1/nothing-here', null)).toMatchObject({ status: 404, body: expected });
  });

  it('answers a body past the limit with 413 API_BODY_TOO_LARGE and a body of another type with 415 API_UNSUPPORTED_MEDIA_TYPE', async () => {
    const post = async (headers: Record<string, string>, payload: string) => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/admin/retention',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
        payload,
      });
      return { status: response.statusCode, body: response.json<unknown>() };
    };
    expect(await post({ 'content-type': 'application/json' }, `{"comment":"${'x'.repeat(1_100_000)}"}`)).toStrictEqual({
      status: 413,
      body: { statusCode: 413, code: 'API_BODY_TOO_LARGE', error: 'Payload Too Large', message: anyString },
    });
    expect(await post({ 'content-type': 'application/xml' }, '<silence/>')).toStrictEqual({
      status: 415,
      body: { statusCode: 415, code: 'API_UNSUPPORTED_MEDIA_TYPE', error: 'Unsupported Media Type', message: anyString },
    });
  });

  it('is healthy on /healthz and ready on /readyz without a token', async () => {
    expect(await t.get('/healthz', null)).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await t.get('/readyz', null)).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('is not ready while disconnected from the broker or while the store refuses writes, and says which', async () => {
    t.state.mqttConnected = false;
    expect(await t.get('/readyz', null)).toMatchObject({
      status: 503,
      body: { statusCode: 503, code: 'API_NOT_READY', error: 'Service Unavailable', message: 'not connected to the MQTT broker' },
    });
    t.state.mqttConnected = true;
    t.state.storeFailure = new Error('SQLITE_FULL: database or disk is full');
    expect(await t.get('/readyz', null)).toMatchObject({
      status: 503,
      body: { message: 'store not writable: SQLITE_FULL: database or disk is full' },
    });
    t.state.storeFailure = undefined;
    await t.store.close();
    t.state.mqttConnected = false;
    const both = await t.get('/readyz', null);
    expect((both.body as { message: string }).message).toMatch(/^not connected to the MQTT broker; store not writable/);
  });

  it('serves Prometheus metrics without a token, with the rejected-payload counter per cause from the start', async () => {
    const { status, body, headers } = await t.get('/metrics', null);
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^text\/plain/);
    expect(body).toContain('# TYPE furnace_backend_payloads_rejected_total counter');
    expect(body).toMatch(/^furnace_backend_payloads_rejected_total\{cause="unknown_topic"\} 0$/m);
  });

  it('serves its OpenAPI document and the browsable docs without a token', async () => {
    const { status, body } = await t.get('/api/v1/openapi.json', null);
    expect(status).toBe(200);
    const doc = body as { openapi: string; paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/devices',
        '/api/v1/devices/{device}',
        '/api/v1/devices/{device}/readings',
        '/api/v1/devices/{device}/gaps',
      ]),
    );
    expect(doc.paths['/api/v1/devices/{device}/readings']?.get?.parameters?.map((p) => p.name)).toEqual(
      expect.arrayContaining(['device', 'sensor', 'from', 'to', 'every', 'agg', 'limit', 'cursor']),
    );
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/^text\/html/);
  });
});
