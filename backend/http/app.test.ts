import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Reading, ReadingBatch } from '../../contract/index.js';
import { BackendMetrics } from '../metrics.js';
import { SqliteReadingStore } from '../store/sqlite-store.js';
import { buildApp } from './app.js';

const DEVICE = 'furnace-1';
const NOW = 1764340000000;

function reading(seq: number, overrides: Partial<Reading> = {}): Reading {
  return { seq, ts: NOW - 5000, sensor: 'tc1', value: 812.5, unit: 'C', quality: 'good', clock: 'synced', replay: false, ...overrides };
}

function batch(readings: Reading[], device = DEVICE): ReadingBatch {
  return { v: 1, device, boot: '01JBOOTA', readings };
}

describe('buildApp (HTTP query API)', () => {
  let dir: string;
  let store: SqliteReadingStore;
  let storeOpen: boolean;
  let app: FastifyInstance;
  let mqttConnected: boolean;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backend-app-test-'));
    store = new SqliteReadingStore(dir);
    storeOpen = true;
    mqttConnected = true;
    app = buildApp({ store, metrics: new BackendMetrics(), log: pino({ level: 'silent' }), mqttConnected: () => mqttConnected });
    await app.ready();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await app.close();
    if (storeOpen) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (url: string) => {
    const response = await app.inject({ method: 'GET', url });
    return { status: response.statusCode, body: response.json<unknown>(), type: response.headers['content-type'] };
  };

  it('lists no devices at first, then the device once it has sent readings', async () => {
    expect(await get('/api/v1/devices')).toMatchObject({ status: 200, body: { devices: [] } });
    await store.insertBatch(batch([reading(1), reading(2)]), NOW - 1000);
    expect(await get('/api/v1/devices')).toMatchObject({
      status: 200,
      body: { devices: [{ device: DEVICE, firstSeen: NOW - 1000, lastSeen: NOW - 1000, readings: 2 }] },
    });
  });

  it('answers the latest reading of each sensor with its age', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    await store.insertBatch(
      batch([reading(1, { ts: NOW - 9000, value: 800 }), reading(2, { ts: NOW - 5000 }), reading(3, { sensor: 'tc2', ts: NOW - 250, value: null, quality: 'bad' })]),
      NOW - 100,
    );
    const { status, body, type } = await get(`/api/v1/devices/${DEVICE}/latest`);
    expect(status).toBe(200);
    expect(type).toMatch(/^application\/json/);
    expect(body).toEqual({
      device: DEVICE,
      readings: [
        { ...reading(2, { ts: NOW - 5000 }), boot: '01JBOOTA', receivedAt: NOW - 100, ageMs: 5000 },
        { ...reading(3, { sensor: 'tc2', ts: NOW - 250, value: null, quality: 'bad' }), boot: '01JBOOTA', receivedAt: NOW - 100, ageMs: 250 },
      ],
    });
  });

  it('answers an unknown device with 404 API_DEVICE_NOT_FOUND in the one error shape', async () => {
    await store.insertBatch(batch([reading(1)]), NOW);
    const { status, body } = await get('/api/v1/devices/furnace-2/latest');
    expect(status).toBe(404);
    expect(body).toStrictEqual({ statusCode: 404, code: 'API_DEVICE_NOT_FOUND', error: 'Not Found', message: expect.any(String) as string });
    expect((body as { message: string }).message).toContain('furnace-2');
  });

  it.each([
    ['a space', 'bad%20id'],
    ['65 characters', 'a'.repeat(65)],
    ['a dot', 'furnace.1'],
    ['a plus', 'furnace+1'],
  ])('refuses a device id with %s with 400 API_BAD_REQUEST', async (_what, id) => {
    const { status, body } = await get(`/api/v1/devices/${id}/latest`);
    expect(status).toBe(400);
    expect(body).toStrictEqual({ statusCode: 400, code: 'API_BAD_REQUEST', error: 'Bad Request', message: expect.any(String) as string });
  });

  it.each([
    ['101 characters (past the router limit)', 'a'.repeat(101)],
    ['a broken percent-encoding', '%E0%A4%A'],
  ])('answers a device id with %s in the API error shape', async (_what, id) => {
    const { status, body } = await get(`/api/v1/devices/${id}/latest`);
    expect(status).toBe(400);
    expect(body).toStrictEqual({ statusCode: 400, code: 'API_BAD_REQUEST', error: 'Bad Request', message: expect.any(String) as string });
  });

  it('takes a device id of exactly 64 characters (an unknown one: 404, not 400)', async () => {
    const { status, body } = await get(`/api/v1/devices/${'a'.repeat(64)}/latest`);
    expect(status).toBe(404);
    expect(body).toMatchObject({ code: 'API_DEVICE_NOT_FOUND' });
  });

  it('answers an unknown route with 404 API_ROUTE_NOT_FOUND', async () => {
    const { status, body } = await get('/api/v1/nothing-here?x=1');
    expect(status).toBe(404);
    expect(body).toStrictEqual({ statusCode: 404, code: 'API_ROUTE_NOT_FOUND', error: 'Not Found', message: 'no route GET /api/v1/nothing-here' });
  });

  it('is healthy on /healthz', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('is ready on /readyz only while connected to the broker', async () => {
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
    mqttConnected = false;
    expect(await get('/readyz')).toMatchObject({
      status: 503,
      body: { statusCode: 503, code: 'API_NOT_READY', error: 'Service Unavailable', message: 'not connected to the MQTT broker' },
    });
    mqttConnected = true;
    expect((await get('/readyz')).status).toBe(200);
  });

  it('is not ready on /readyz when the store cannot be written, and says both causes', async () => {
    await store.close();
    storeOpen = false;
    mqttConnected = false;
    expect(await get('/readyz')).toMatchObject({
      status: 503,
      body: { code: 'API_NOT_READY', message: 'not connected to the MQTT broker; store not writable' },
    });
  });

  it('serves Prometheus metrics, with the rejected-payload counter per cause from the start', async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toContain('# TYPE furnace_backend_payloads_rejected_total counter');
    expect(response.body).toMatch(/^furnace_backend_payloads_rejected_total\{cause="unknown_topic"\} 0$/m);
  });
});
