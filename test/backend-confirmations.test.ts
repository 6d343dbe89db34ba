// The backend's side of end-to-end delivery, through a real broker (Mosquitto) and real SQLite:
// after a commit it tells the agent, retained on telemetry/v1/{device}/stored, which of its seq
// it holds; a listener that throws never holds up acknowledgements; a broker that never answers
// a SUBSCRIBE leaves the backend not ready, and it still stops.
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type StoredConfirmation, decodeStoredConfirmation } from '../contract/index.js';
import { apiGet, publishBatch, readingsBatch, waitUntilSubscribed } from './helpers/backend-http.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';
import { describeWithProgram } from './helpers/require-program.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-confirm';
const T0 = Date.now() - 3_600_000;
const tsOf = (seq: number) => T0 + seq * 1000;

function start(mqttUrl: string, dir?: string): Promise<TestBackend> {
  return startTestBackend({ mqttUrl, dir, settings: { ingest: { batchMaxDelayMs: 10, confirmIntervalMs: 100 } } });
}

describeWithProgram('mosquitto', 'mosquitto', 'backend confirmations through Mosquitto', () => {
  let broker: Mosquitto;
  let agent: MqttClient;
  let backend: TestBackend | undefined;
  const confirmations: StoredConfirmation[] = [];
  beforeEach(async () => {
    broker = await startMosquitto();
    agent = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    confirmations.length = 0;
    agent.on('message', (topic, payload) => {
      const decoded = decodeStoredConfirmation(DEVICE, payload);
      if (!decoded.ok) throw new Error(`bad confirmation on ${topic}: ${JSON.stringify(decoded.issues)}`);
      confirmations.push(decoded.value);
    });
    await agent.subscribeAsync(`telemetry/v1/${DEVICE}/stored`, { qos: 1 });
  });
  afterEach(async () => {
    await backend?.close();
    backend = undefined;
    await agent.endAsync();
    await broker.stop();
  });

  /** Whether any confirmation so far named `seq` of `boot` stored. */
  const everConfirmed = (boot: string, seq: number) =>
    confirmations.some((c) =>
      c.boots.some((entry) => entry.boot === boot && entry.runs.some(([first, last]) => first <= seq && seq <= last)),
    );
  /** The runs of the latest confirmation that names `boot` (another boot may have been confirmed since). */
  const latestRuns = (boot: string) =>
    confirmations.findLast((c) => c.boots.some((entry) => entry.boot === boot))?.boots.find((entry) => entry.boot === boot)?.runs;

  it('confirms the runs it holds, retained, holes and redeliveries included, a few times a second at most', async () => {
    backend = await start(broker.url);
    const { base } = backend;
    await waitUntilSubscribed(base, agent, readingsBatch(DEVICE, 'boot-a', [1], tsOf));
    await waitFor(() => latestRuns('boot-a')?.[0]?.[1] === 1, { timeoutMs: 5000, what: 'seq 1 confirmed' });
    await publishBatch(agent, readingsBatch(DEVICE, 'boot-a', [2, 3, 4], tsOf));
    await publishBatch(agent, readingsBatch(DEVICE, 'boot-a', [7, 8], tsOf)); // 5 and 6 missing
    await publishBatch(agent, readingsBatch(DEVICE, 'boot-b', [9], tsOf));
    // The two batches may be committed, and so confirmed, together or one after the other.
    await waitFor(() => [1, 2, 3, 4, 7, 8].every((seq) => everConfirmed('boot-a', seq)) || undefined, {
      timeoutMs: 5000,
      what: 'runs 1-4 and 7-8 confirmed',
    });
    expect([5, 6].filter((seq) => everConfirmed('boot-a', seq))).toEqual([]);
    await waitFor(() => confirmations.some((c) => c.boots.some((b) => b.boot === 'boot-b' && b.runs[0]?.[0] === 9)), {
      timeoutMs: 5000,
      what: 'boot-b confirmed',
    });

    // A redelivery stores nothing new, and is confirmed again: the agent may have missed the first one.
    const before = confirmations.length;
    await publishBatch(agent, readingsBatch(DEVICE, 'boot-a', [7, 8], tsOf));
    await waitFor(() => confirmations.length > before, { timeoutMs: 5000, what: 'the redelivery confirmed' });
    expect(latestRuns('boot-a')).toEqual([[7, 8]]);

    // Filling the hole confirms the merged run.
    await publishBatch(agent, readingsBatch(DEVICE, 'boot-a', [5, 6], tsOf));
    await waitFor(() => JSON.stringify(latestRuns('boot-a')) === '[[1,8]]' || undefined, { timeoutMs: 5000, what: 'the merged run 1-8' });

    // Throttled: 40 batches in a burst make far fewer confirmations, the last covering all of them.
    const burstStart = confirmations.length;
    const burstAt = Date.now();
    await Promise.all(Array.from({ length: 40 }, (_, i) => publishBatch(agent, readingsBatch(DEVICE, 'boot-a', [100 + i], tsOf))));
    await waitFor(() => latestRuns('boot-a')?.some(([first, last]) => first <= 100 && last >= 139), {
      timeoutMs: 5000,
      what: 'seq 100-139 confirmed',
    });
    // One per 100 ms at most (plus the one in flight when the burst began).
    expect(confirmations.length - burstStart).toBeLessThanOrEqual(Math.ceil((Date.now() - burstAt) / 100) + 2);
    expect(confirmations.length - burstStart).toBeLessThan(40);

    // Retained: an agent that subscribes later gets the latest confirmation at once.
    const late = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    try {
      const retained = new Promise<Buffer>((resolve) => late.on('message', (_topic, payload) => resolve(payload)));
      await late.subscribeAsync(`telemetry/v1/${DEVICE}/stored`, { qos: 1 });
      const decoded = decodeStoredConfirmation(DEVICE, await retained);
      expect(decoded.ok && decoded.value.boots.some((b) => b.runs.some(([first, last]) => first <= 139 && last >= 139))).toBe(true);
    } finally {
      await late.endAsync();
    }
    const metrics = await apiGet<string>(base, '/metrics', null);
    expect(Number(/^furnace_backend_confirmations_published_total (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThan(3);
  });

  it('acknowledges and confirms every message even when a stored or committed listener throws, and counts them', async () => {
    backend = await start(broker.url);
    const { base } = backend;
    backend.ingest.events.on('stored', () => {
      throw new Error('a broken stored listener');
    });
    backend.ingest.events.on('committed', () => {
      throw new Error('a broken committed listener');
    });
    await waitUntilSubscribed(base, agent, readingsBatch(DEVICE, 'boot-a', [1], tsOf));
    // Each publishAsync resolves on its PUBACK: before the fix the first throw held every later one.
    for (let seq = 2; seq <= 20; seq++) await publishBatch(agent, readingsBatch(DEVICE, 'boot-a', [seq], tsOf));
    await waitFor(() => JSON.stringify(latestRuns('boot-a')) === '[[1,20]]' || undefined, { timeoutMs: 5000, what: 'seq 1-20 confirmed' });
    const metrics = (await apiGet<string>(base, '/metrics', null)).body;
    expect(Number(/^furnace_backend_ingest_listener_errors_total\{event="stored"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(20);
    expect(Number(/^furnace_backend_ingest_listener_errors_total\{event="committed"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(
      1,
    );
    expect(metrics).toMatch(/^furnace_backend_readings_stored_total 20$/m);
  });
});

describe('a broker that never acknowledges the subscriptions', () => {
  let server: Server;
  let dir: string;
  const sockets = new Set<Socket>();
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backend-nosuback-'));
    // Answers CONNECT with CONNACK (accepted) and nothing else: a SUBSCRIBE waits for ever.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (data) => {
        if (data[0] === 0x10) socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('says it is not ready and why, and still stops promptly', async () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    // The test's own folder: close() below, timed, then removes nothing.
    const backend = await start(`mqtt://127.0.0.1:${address.port}`, dir);
    const { base } = backend;
    await waitFor(() => backend.ingest.connected, { timeoutMs: 5000, what: 'the backend connected' });
    const ready = await apiGet<{ message: string }>(base, '/readyz', null);
    expect(ready.status).toBe(503);
    expect(ready.body.message).toMatch(/has not acknowledged the subscriptions/);
    const started = Date.now();
    await backend.close();
    expect(Date.now() - started).toBeLessThan(5000);
    // The backend dropped its connection itself: the broker side sees it closed.
    await waitFor(() => [...sockets].every((socket) => socket.closed), { timeoutMs: 2000, what: 'the backend to drop its socket' });
  });
});
