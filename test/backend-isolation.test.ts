// A failure on one path does not spread to the other: heavy queries do not slow ingest, and a
// store that cannot be written does not make the query API hang. Real Mosquitto, real SQLite,
// real HTTP; each test measures what it claims.
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, expect, it, onTestFinished } from 'vitest';
import type { CommitInfo } from '../backend/ingest/write-batcher.js';
import { SQLITE_FILE, SqliteReadingStore } from '../backend/store/sqlite-store.js';
import { apiGet, publishBatch, readingsBatch, waitUntilSubscribed } from './helpers/backend-http.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';
import { describeWithProgram } from './helpers/require-program.js';
import { seedReadings } from './helpers/seed-readings.js';
import { type TestBackend, type TestBackendOptions, startTestBackend } from './helpers/test-backend.js';
import { waitFor } from './helpers/wait-for.js';

const LIVE = 'furnace-live';
const HISTORY = 'furnace-history';
// Seeding 600,000 readings and scanning them four times takes what the machine gives it: ~0.5 s a
// query idle, 5-20 s with the machine's two cores oversubscribed. These tests measure no speed,
// so the budgets of those queries (the backend's and the client's) and of the test are far above that.
const HEAVY_QUERY_BUDGET_MS = 90_000;
const HEAVY_TEST_TIMEOUT_MS = 180_000;
// What the store-locked test guards against: a connection with a busy timeout (better-sqlite3's
// default is 5 s) blocks the thread that answers HTTP for that long on each attempt. Far from the
// few ms an answer takes, and from the half-second one takes on a loaded machine.
const BUSY_TIMEOUT_DEFAULT_MS = 5000;
const LOCKED_ANSWER_BOUND_MS = BUSY_TIMEOUT_DEFAULT_MS / 2;

/** BEGIN IMMEDIATE without waiting: true once this connection holds the write lock. */
function tryBegin(db: Database.Database): boolean {
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw error;
  }
}

describeWithProgram('mosquitto', 'mosquitto', 'backend: ingest and queries do not drag each other down', () => {
  let broker: Mosquitto;
  let publisher: MqttClient;
  let backend: TestBackend | undefined;
  beforeEach(async () => {
    broker = await startMosquitto();
    publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  });
  afterEach(async () => {
    await backend?.close();
    backend = undefined;
    await publisher.endAsync();
    await broker.stop();
  });

  async function start(options: Omit<TestBackendOptions, 'mqttUrl'> = {}): Promise<{ backend: TestBackend; base: string }> {
    backend = await startTestBackend({ mqttUrl: broker.url, ...options });
    const { base } = backend;
    await waitUntilSubscribed(base, publisher, readingsBatch(LIVE, 'boot-a', [1], Date.now));
    return { backend, base };
  }

  it(
    'keeps its ingest pace while heavy queries keep every query worker busy, and /latest stays fast',
    { timeout: HEAVY_TEST_TIMEOUT_MS },
    async () => {
      // 600 000 readings of another device, for queries that scan all of them (~0.5 s each here).
      const T0 = Date.now() - 7 * 3_600_000;
      const { backend: running, base } = await start({
        beforeStart: async (dataDir) => {
          await new SqliteReadingStore(dataDir).close();
          seedReadings(join(dataDir, SQLITE_FILE), { device: HISTORY, boot: 'old', sensors: 100, seconds: 6000, t0: T0 });
        },
        settings: { query: { workers: 2, timeoutMs: HEAVY_QUERY_BUDGET_MS }, http: { handlerTimeoutMs: HEAVY_QUERY_BUDGET_MS } },
      });

      const commits: Array<{ at: number; readings: number; waitMax: number }> = [];
      running.ingest.events.on('committed', (commit: CommitInfo) => {
        commits.push({ at: performance.now(), readings: commit.result.inserted, waitMax: Math.max(...commit.waitSeconds) });
      });
      // 10 readings every 20 ms: 500 readings/s, published at a steady pace until told to stop.
      const published: number[] = [];
      let stop = false;
      // Also when the test fails half-way: the stream must not run on into the next test.
      onTestFinished(() => {
        stop = true;
      });
      const client = publisher;
      const stream = (async () => {
        for (let seq = 2; !stop; seq += 10) {
          await publishBatch(
            client,
            readingsBatch(
              LIVE,
              'boot-a',
              Array.from({ length: 10 }, (_, i) => seq + i),
              Date.now,
            ),
          );
          published.push(performance.now());
          await pause(20);
        }
      })();

      const baselineStart = performance.now();
      await pause(1000);
      const queryStart = performance.now();
      const slow = `/api/v1/devices/${HISTORY}/readings?every=1s&agg=mean&from=${T0}&to=${T0 + 6_000_000}&limit=10000`;
      // When the first answer came is at least one query's whole run, on a worker or (the failure) not.
      let firstAnswerMs = Number.POSITIVE_INFINITY;
      const queries = Array.from({ length: 4 }, () =>
        apiGet<{ points: unknown[] }>(base, slow, undefined, HEAVY_QUERY_BUDGET_MS).then((answer) => {
          firstAnswerMs = Math.min(firstAnswerMs, performance.now() - queryStart);
          return answer;
        }),
      );
      const latest: number[] = [];
      let queriesDone = false;
      const all = Promise.all(queries).finally(() => (queriesDone = true));
      while (!queriesDone) {
        latest.push((await apiGet(base, `/api/v1/devices/${LIVE}/latest`)).ms);
        await pause(100);
      }
      const answers = await all;
      const queryEnd = performance.now();
      await pause(500); // let the commits of the last readings published during the queries land
      stop = true;
      await stream;

      const rate = (from: number, to: number) => {
        const stored = commits.filter((c) => c.at >= from && c.at < to).reduce((sum, c) => sum + c.readings, 0);
        const sent = published.filter((at) => at >= from && at < to).length * 10;
        const waits = commits.filter((c) => c.at >= from && c.at < to).map((c) => c.waitMax * 1000);
        return {
          storedPerSecond: (stored * 1000) / (to - from),
          sentPerSecond: (sent * 1000) / (to - from),
          maxWaitMs: Math.max(...waits),
        };
      };
      const baseline = rate(baselineStart, queryStart);
      const underLoad = rate(queryStart, queryEnd);
      const figures = {
        queryMs: Math.round(queryEnd - queryStart),
        firstAnswerMs: Math.round(firstAnswerMs),
        baseline: {
          stored: Math.round(baseline.storedPerSecond),
          sent: Math.round(baseline.sentPerSecond),
          maxWaitMs: Math.round(baseline.maxWaitMs),
        },
        underLoad: {
          stored: Math.round(underLoad.storedPerSecond),
          sent: Math.round(underLoad.sentPerSecond),
          maxWaitMs: Math.round(underLoad.maxWaitMs),
        },
        latestMaxMs: Math.round(Math.max(...latest)),
      };
      console.info(`ingest while 4 heavy queries run: ${JSON.stringify(figures)}`);

      expect(answers.map((answer) => [answer.status, answer.body.points.length])).toEqual(Array(4).fill([200, 10_000]));
      expect(figures.queryMs).toBeGreaterThan(500); // the queries were heavy enough to matter
      expect(underLoad.storedPerSecond).toBeGreaterThan(0.8 * underLoad.sentPerSecond);
      // Arrival to commit (50 ms of it is the batching delay) and /latest: if a query held the thread
      // that ingests and answers, either would wait a whole query's run, at least as long as the first
      // answer took. Measured against that in the same run, not in ms: a loaded machine slows both.
      expect(underLoad.maxWaitMs).toBeLessThan(figures.firstAnswerMs / 2);
      expect(figures.latestMaxMs).toBeLessThan(figures.firstAnswerMs / 2);
      expect(latest.length).toBeGreaterThanOrEqual(3);
    },
  );

  it('says so on /readyz while the store cannot be written, answers /latest fast meanwhile, and loses nothing', async () => {
    const { backend: running, base } = await start({ settings: { ingest: { retryMaxDelayMs: 200 } } });
    // Another process takes the write lock and keeps it: a backup, a stuck sqlite3 shell.
    const other = new Database(join(running.dataDir, SQLITE_FILE), { timeout: 0 });
    try {
      // The backend commits on its own thread: it may hold the lock at this moment (a repeat of
      // reading 1 from waitUntilSubscribed). Take it as soon as it is free.
      await waitFor(() => tryBegin(other), { timeoutMs: 5000, what: 'the write lock' });
      const readyz = await apiGet<{ code: string; message: string }>(base, '/readyz', null);
      expect(readyz).toMatchObject({ status: 503, body: { code: 'API_NOT_READY', message: 'store not writable: database is locked' } });
      expect(readyz.ms).toBeLessThan(LOCKED_ANSWER_BOUND_MS);

      await publishBatch(publisher, readingsBatch(LIVE, 'boot-a', [2, 3], Date.now));
      // (2 or more: a repeat of reading 1 from waitUntilSubscribed may still be in flight.)
      await waitFor(() => running.ingest.uncommittedReadings >= 2 && running.ingest.storeFailure !== undefined, {
        timeoutMs: 5000,
        what: 'the write to fail and wait',
      });
      for (let i = 0; i < 5; i++) {
        const latest = await apiGet<{ readings: Array<{ seq: number }> }>(base, `/api/v1/devices/${LIVE}/latest`);
        expect(latest.status).toBe(200);
        expect(latest.body.readings.map((r) => r.seq)).toEqual([1]);
        expect(latest.ms).toBeLessThan(LOCKED_ANSWER_BOUND_MS);
      }
      expect((await apiGet(base, '/readyz', null)).status).toBe(503);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
    await waitFor(async () => (await apiGet(base, '/readyz', null)).status === 200, { timeoutMs: 5000, what: 'ready again' });
    const latest = await apiGet<{ readings: Array<{ seq: number }> }>(base, `/api/v1/devices/${LIVE}/latest`);
    expect(latest.body.readings.map((r) => r.seq)).toEqual([3]);
    expect((await running.store.readings(LIVE)).map((r) => r.seq)).toEqual([1, 2, 3]);
  });
});
