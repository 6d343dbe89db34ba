// The query API over a real port, as scripts and dashboards call it: tokens, scopes, bad
// parameters, and a query past its budget. No broker is needed to answer from the store.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILE, SqliteReadingStore } from '../backend/store/sqlite-store.js';
import { ADMIN_TOKEN, READ_TOKEN, apiGet, readingsBatch } from './helpers/backend-http.js';
import { freePort } from './helpers/free-port.js';
import { seedReadings } from './helpers/seed-readings.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';

const DEVICE = 'furnace-api';
const HOUR_MS = 3_600_000;
// Recent, on an hour: readings older than rawRetentionDays (30) would be deleted by the backend's
// retention at start-up, racing the query below (a fixed date made this test fail once it aged).
const T0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * 24 * HOUR_MS;

describe('backend query API over HTTP', () => {
  let backend: TestBackend;
  let base: string;
  // One backend for the file: no test here changes what the others read.
  beforeAll(async () => {
    backend = await startTestBackend({
      // Nothing listens on the broker port: the API must answer without a broker.
      mqttUrl: `mqtt://127.0.0.1:${await freePort()}`,
      settings: { query: { timeoutMs: 100, workers: 1 } },
      // 400 000 readings of a second device, for a query that cannot finish in 100 ms (about 350 ms here).
      beforeStart: async (dataDir) => {
        await new SqliteReadingStore(dataDir).close();
        seedReadings(join(dataDir, SQLITE_FILE), { device: 'big', boot: 'b', sensors: 50, seconds: 8000, t0: T0 });
      },
    });
    base = backend.base;
    await backend.store.insertBatch(
      readingsBatch(DEVICE, 'boot-a', [1, 2, 3], (seq) => T0 + seq * 1000),
      T0,
    );
  });
  afterAll(() => backend.close());

  it('answers 401 without a token, 403 to a read token on an admin route, and lets the right tokens through', async () => {
    expect(await apiGet(base, '/api/v1/devices', null)).toMatchObject({ status: 401, body: { code: 'API_UNAUTHORIZED' } });
    expect(await apiGet(base, `/api/v1/devices/${DEVICE}/latest`, null)).toMatchObject({ status: 401 });
    expect(await apiGet(base, '/api/v1/admin/ingest', READ_TOKEN)).toMatchObject({ status: 403, body: { code: 'API_FORBIDDEN' } });
    expect(await apiGet(base, '/api/v1/admin/ingest', ADMIN_TOKEN)).toMatchObject({ status: 200, body: { connected: false } });
    expect(await apiGet(base, `/api/v1/devices/${DEVICE}/latest`, READ_TOKEN)).toMatchObject({ status: 200 });
    // Probes need no token; readiness says why it is not ready.
    expect(await apiGet(base, '/readyz', null)).toMatchObject({ status: 503, body: { message: 'not connected to the MQTT broker' } });
  });

  it.each([
    ['an unknown device', '/api/v1/devices/furnace-nope/readings', 404, /^device: /],
    ['from after to', `/api/v1/devices/${DEVICE}/readings?from=${T0 + 1000}&to=${T0}`, 400, /^from: /],
    ['every=0', `/api/v1/devices/${DEVICE}/readings?every=0`, 400, /^every: /],
    [
      'a range of 50 years',
      `/api/v1/devices/${DEVICE}/readings?from=1975-01-01T00:00:00Z&to=2025-01-01T00:00:00Z`,
      400,
      /^from: the range/,
    ],
    [
      'SQL in the sensor',
      `/api/v1/devices/${DEVICE}/readings?sensor=${encodeURIComponent("tc1';DROP TABLE readings;--")}`,
      400,
      /^sensor: /,
    ],
    ['SQL in the device', `/api/v1/devices/${encodeURIComponent("x' OR '1'='1")}/readings`, 400, /^device: /],
    ['a script in agg', `/api/v1/devices/${DEVICE}/readings?every=1m&agg=${encodeURIComponent('<script>')}`, 400, /^agg: /],
  ])('refuses %s, naming the parameter', async (_what, path, status, message) => {
    const answer = await apiGet<{ statusCode: number; code: string; message: string }>(base, path);
    expect(answer.status).toBe(status);
    expect(answer.body.statusCode).toBe(status);
    expect(answer.body.message).toMatch(message);
    expect((await backend.store.readings(DEVICE)).length).toBe(3);
  });

  it('answers a query past its budget with 503 API_QUERY_TIMEOUT at once, never a hang, and goes on answering', async () => {
    const started = performance.now();
    const answer = await apiGet<{ code: string; message: string }>(
      base,
      `/api/v1/devices/big/readings?every=1s&agg=max&from=${T0}&to=${T0 + 8_000_000}&limit=10000`,
    );
    expect(answer).toMatchObject({
      status: 503,
      body: { code: 'API_QUERY_TIMEOUT', message: expect.stringMatching(/within 100 ms/) as string },
    });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await apiGet(base, `/api/v1/devices/${DEVICE}/latest`)).toMatchObject({ status: 200 });
  });
});
