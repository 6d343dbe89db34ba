// Commands when replies cannot come back: no broker at all, a broker whose ACL refuses the
// backend the reply filter, or a store so far behind that a reply would wait behind readings
// (they share ingest's MQTT session). Either way a command is refused at once with 503 saying why, and
// the rest of the backend (the query API, ingest) goes on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SQLITE_FILE } from '../backend/store/sqlite-store.js';
import { type RunningBroker, loadBrokerConfig, startBroker } from '../broker/index.js';
import { apiPost } from './helpers/api-post.js';
import { ADMIN_TOKEN, apiGet, publishBatch, readingsBatch, waitUntilSubscribed } from './helpers/backend-http.js';
import { CommandAgent } from './helpers/command-agent.js';
import { freePort } from './helpers/free-port.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';
import { USERS, connectAs, startTestBroker, writeUsers } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const log = pino({ level: 'silent' });
const DEVICE = USERS.devA.username;
const cleanups: Array<() => Promise<void> | void> = [];
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'backend-commands-degraded-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function backendOn(mqttUrl: string): Promise<TestBackend> {
  const backend = await startTestBackend({
    mqttUrl,
    dir,
    settings: { mqtt: { username: USERS.backend.username, password: USERS.backend.password }, alerts: { mqtt: false } },
    flags: { 'mqtt.clientId': USERS.backend.username },
  });
  cleanups.push(() => backend.close());
  return backend;
}

it('answers 503 API_BROKER_UNAVAILABLE at once without a broker, and still 404 for an unknown device', async () => {
  const backend = await backendOn(`mqtt://127.0.0.1:${await freePort()}`);
  const { base } = backend;
  backend.registry.putStatus({ v: 1, device: DEVICE, state: 'online', ts: Date.now(), boot: 'b1' }, Date.now());
  const answer = await apiPost<{ code: string; message: string }>(base, `/api/v1/devices/${DEVICE}/commands/ping`, {});
  expect(answer).toMatchObject({
    status: 503,
    body: { code: 'API_BROKER_UNAVAILABLE', message: 'cannot send commands now: not connected to the MQTT broker' },
  });
  expect(answer.ms).toBeLessThan(1000); // at once: nothing is sent (the default timeout is 5 s)
  expect(await apiPost(base, '/api/v1/devices/furnace-nobody/commands/ping', {})).toMatchObject({
    status: 404,
    body: { code: 'API_DEVICE_NOT_FOUND' },
  });
  const metrics = await apiGet<string>(base, '/metrics', null);
  expect(metrics.body).toMatch(/^furnace_backend_commands_total\{command="ping",outcome="unavailable"\} 1$/m);
});

it('takes readings and is ready when the broker refuses only the reply filter, and answers commands 503 saying so', async () => {
  const passwordFile = join(dir, 'users');
  await writeUsers(passwordFile, Object.values(USERS));
  const brokerFile = join(dir, 'broker.yaml');
  // The backend's default rights without cmd/v1/+/+/reply.
  writeFileSync(brokerFile, stringify({ acl: { backend: { subscribe: ['telemetry/v1/#', 'alerts/v1/#'] } } }));
  const broker: RunningBroker = await startBroker(
    loadBrokerConfig(brokerFile, {}, { 'tcp.host': '127.0.0.1', 'tcp.port': '0', 'auth.passwordFile': passwordFile }),
    log,
  );
  cleanups.push(() => broker.close());
  const { base } = await backendOn(`mqtt://127.0.0.1:${broker.port}`);
  const device = await connectAs(`mqtt://127.0.0.1:${broker.port}`, USERS.devA);
  cleanups.push(() => device.endAsync());
  await device.publishAsync(
    `telemetry/v1/${DEVICE}/status`,
    JSON.stringify({ v: 1, device: DEVICE, state: 'online', ts: Date.now(), boot: 'b1' }),
    { qos: 1, retain: true },
  );
  await waitUntilSubscribed(
    base,
    device,
    readingsBatch(DEVICE, 'b1', [1], (seq) => Date.now() - 1000 + seq),
  );
  await waitFor(async () => (await apiGet(base, '/readyz', null)).status === 200, { timeoutMs: 5000, what: 'the backend ready' });
  const answer = await apiPost<{ code: string; message: string }>(base, `/api/v1/devices/${DEVICE}/commands/ping`, {}, ADMIN_TOKEN);
  expect(answer).toMatchObject({
    status: 503,
    body: {
      code: 'API_BROKER_UNAVAILABLE',
      message: expect.stringMatching(/refused the subscription to cmd\/v1\/\+\/\+\/reply/) as string,
    },
  });
});

it('answers 503 at once while the store is locked, sending nothing (a reply would wait behind readings), and commands again once it catches up', async () => {
  const broker = await startTestBroker();
  cleanups.push(() => broker.stop());
  const backend = await backendOn(broker.url);
  const { base } = backend;
  await waitFor(() => backend.ingest.commandsProblem === undefined, { timeoutMs: 5000, what: 'the backend subscribed' });
  const agent = await CommandAgent.connect(broker.url, USERS.devA);
  cleanups.push(() => agent.end());
  await waitFor(() => backend.registry.get(DEVICE)?.status?.state === 'online', { timeoutMs: 5000, what: 'the device online' });
  const ping = () => apiPost<{ code: string; message: string }>(base, `/api/v1/devices/${DEVICE}/commands/ping`, {});
  expect((await ping()).status).toBe(200);

  // Another connection holds the write lock: every commit of the backend fails (it does not wait for locks).
  const lock = new Database(join(backend.dataDir, SQLITE_FILE));
  cleanups.push(() => void (lock.open && lock.close()));
  lock.exec('BEGIN EXCLUSIVE');
  await publishBatch(
    agent.client,
    readingsBatch(DEVICE, agent.boot, [1, 2, 3], (seq) => Date.now() - 1000 + seq),
  );
  await waitFor(() => backend.ingest.storeFailure !== undefined, { timeoutMs: 5000, what: 'a commit failed' });
  const sent = agent.received.length;
  const answer = await ping();
  expect(answer).toMatchObject({
    status: 503,
    body: {
      code: 'API_BROKER_UNAVAILABLE',
      message: expect.stringMatching(/the store is behind: command replies would wait behind readings/) as string,
    },
  });
  expect(answer.ms).toBeLessThan(1000);
  expect(agent.received.length).toBe(sent);

  lock.exec('ROLLBACK');
  await waitFor(() => backend.ingest.commandsProblem === undefined, { timeoutMs: 10_000, what: 'the store caught up' });
  expect((await ping()).status).toBe(200);
});

it('closes promptly with a command waiting for a frozen agent: the command answers 503 at once', async () => {
  const broker = await startTestBroker();
  cleanups.push(() => broker.stop());
  // Closed by the test itself (the cleanup's close is then a no-op).
  const backend = await backendOn(broker.url);
  const { base } = backend;
  await waitFor(() => backend.ingest.commandsProblem === undefined, { timeoutMs: 5000, what: 'the backend subscribed' });
  const agent = await CommandAgent.connect(broker.url, USERS.devA);
  cleanups.push(() => agent.end());
  agent.answer = () => undefined; // frozen: never answers
  await waitFor(() => backend.registry.get(DEVICE)?.status?.state === 'online', { timeoutMs: 5000, what: 'the device online' });
  const timeoutMs = 20_000;
  const waiting = apiPost<{ code: string; message: string }>(base, `/api/v1/devices/${DEVICE}/commands/ping`, { timeoutMs });
  await agent.nextRequest();
  const started = performance.now();
  await backend.close();
  const closeMs = performance.now() - started;
  expect(await waiting).toMatchObject({ status: 503, body: { code: 'API_NOT_READY', message: 'the backend is stopping' } });
  // Well short of the command's own timeout, which close() used to wait out.
  expect(closeMs).toBeLessThan(timeoutMs / 4);
});
