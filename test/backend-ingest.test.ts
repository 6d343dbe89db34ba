// Ingest that loses nothing, through a real broker (Mosquitto), real SQLite and the real HTTP
// API: duplicates, reordering and a gap; and a backend killed with SIGKILL mid-stream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  allReadings,
  apiGet,
  publishBatch,
  readingsBatch,
  waitUntilSubscribed,
  writeBackendConfig,
} from './helpers/backend-http.js';
import { startCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';
import { stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { startTestBackend } from './helpers/test-backend.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-ingest';
const T0 = Date.now() - 3_600_000;
const tsOf = (seq: number) => T0 + seq * 1000;

describeWithProgram('mosquitto', 'mosquitto', 'backend ingest through Mosquitto', () => {
  let dir: string;
  let broker: Mosquitto;
  let publisher: MqttClient;
  const cleanups: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backend-ingest-'));
    broker = await startMosquitto();
    publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await publisher.endAsync();
    await stopAllProcesses();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores duplicates, reordered readings and a gap once each, in order, and reports the gap', async () => {
    const backend = await startTestBackend({ mqttUrl: broker.url, settings: { ingest: { batchMaxDelayMs: 20 } } });
    cleanups.push(() => backend.close());
    const { base } = backend;
    const send = (seqs: number[], boot = 'boot-a') => publishBatch(publisher, readingsBatch(DEVICE, boot, seqs, tsOf));
    await waitUntilSubscribed(base, publisher, readingsBatch(DEVICE, 'boot-a', [1], tsOf));
    await send([1, 2, 3]);
    await send([6, 7]); // 4 and 5 come later: reordering
    await send([2, 3]); // a QoS 1 redelivery or an outbox replay
    await send([4, 5]);
    await send([6, 7, 8]); // partly a duplicate
    await send([12, 13]); // 9..11 never come: a gap
    await send([12]);
    const stored = await waitFor(
      async () => {
        const rows = await allReadings(base, DEVICE, T0, T0 + 100_000);
        return rows.length === 10 ? rows : undefined;
      },
      { timeoutMs: 10_000, what: 'ten readings stored' },
    );
    expect(stored.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 12, 13]);
    const gaps = await apiGet<{ gaps: unknown[] }>(base, `/api/v1/devices/${DEVICE}/gaps`);
    expect(gaps).toMatchObject({
      status: 200,
      body: { gaps: [{ boot: 'boot-a', fromSeq: 9, toSeq: 11, missing: 3, afterTs: tsOf(8), beforeTs: tsOf(12) }] },
    });
    const metrics = await apiGet<string>(base, '/metrics', null);
    expect(Number(/^furnace_backend_readings_duplicate_total (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThanOrEqual(5);
    expect(metrics.body).toMatch(/^furnace_backend_readings_stored_total 10$/m);
    // The hole 4..5 opened and closed; 9..11 stays open.
    expect(metrics.body).toMatch(/^furnace_backend_seq_gaps_opened_total 2$/m);
    expect(metrics.body).toMatch(/^furnace_backend_seq_gaps_closed_total 1$/m);
  });

  it('learns each device from the retained status and sensors topics, also those sent before it started', async () => {
    const retained = { qos: 1 as const, retain: true };
    const sensors = [{ id: 'tc1', unit: 'C', min: 0, max: 1300 }];
    const born = Date.now() - 60_000;
    await publisher.publishAsync(
      `telemetry/v1/${DEVICE}/status`,
      JSON.stringify({ v: 1, device: DEVICE, state: 'online', ts: born, boot: 'boot-a', agentVersion: '0.1.0', sensors }),
      retained,
    );
    const health = {
      v: 1,
      device: DEVICE,
      ts: born + 1000,
      sensors: [{ sensor: 'tc1', state: 'stalled', since: born + 500, reason: 'no reading for 5 s' }],
    };
    await publisher.publishAsync(`telemetry/v1/${DEVICE}/sensors`, JSON.stringify(health), retained);
    await publisher.publishAsync('telemetry/v1/other/status', '{"v":1,"device":"someone-else","state":"online","ts":1}', retained);

    const backend = await startTestBackend({ mqttUrl: broker.url });
    cleanups.push(() => backend.close());
    const { base } = backend;
    const detail = await waitFor(
      async () => {
        const answer = await apiGet<{ status: unknown; sensors: unknown[] }>(base, `/api/v1/devices/${DEVICE}`);
        return answer.status === 200 && answer.body.sensors.length > 0 && answer.body.status !== null ? answer.body : undefined;
      },
      { timeoutMs: 10_000, what: 'the retained status and sensor health' },
    );
    expect(detail).toMatchObject({
      readings: 0,
      status: { state: 'online', ts: born, boot: 'boot-a', agentVersion: '0.1.0' },
      sensors: [
        {
          sensor: 'tc1',
          unit: 'C',
          min: 0,
          max: 1300,
          health: { state: 'stalled', reason: 'no reading for 5 s' },
          latest: null,
          stale: true,
        },
      ],
    });
    // The agent's will: offline, retained, published by the broker when the agent is gone.
    await publisher.publishAsync(
      `telemetry/v1/${DEVICE}/status`,
      JSON.stringify({ v: 1, device: DEVICE, state: 'offline', ts: born }),
      retained,
    );
    await waitFor(
      async () => (await apiGet<{ devices: Array<{ state: string }> }>(base, '/api/v1/devices')).body.devices[0]?.state === 'offline',
      {
        timeoutMs: 10_000,
        what: 'the device to go offline',
      },
    );
    const metrics = await apiGet<string>(base, '/metrics', null);
    expect(metrics.body).toMatch(/^furnace_backend_payloads_rejected_total\{cause="device_mismatch"\} 1$/m);
  });

  it('loses nothing and stores nothing twice when the backend is killed (SIGKILL) and restarted mid-stream', async () => {
    // The CLI in a child process, not startTestBackend: only a process can be killed with SIGKILL.
    const [httpPort, file] = [await freePort(), writeBackendConfig(dir)];
    const args = [
      '--config',
      file,
      '--host',
      '127.0.0.1',
      '--port',
      String(httpPort),
      '--mqtt-url',
      broker.url,
      '--data-dir',
      join(dir, 'backend'),
    ];
    const base = `http://127.0.0.1:${httpPort}`;
    const stored = async () => (await apiGet<{ readings: number }>(base, `/api/v1/devices/${DEVICE}`)).body.readings;
    let backend = await startCli('backend', args);
    await waitUntilSubscribed(base, publisher, readingsBatch(DEVICE, 'boot-a', [1], tsOf));

    const MESSAGES = 300;
    const PER_MESSAGE = 5;
    let published = 0;
    const stream = (async () => {
      for (let m = 0; m < MESSAGES; m++) {
        const seqs = Array.from({ length: PER_MESSAGE }, (_, i) => 2 + m * PER_MESSAGE + i);
        await publishBatch(publisher, readingsBatch(DEVICE, 'boot-a', seqs, tsOf));
        published++;
        await new Promise((resolve) => setTimeout(resolve, 4)); // a steady stream, not a burst
      }
    })();

    await waitFor(async () => (await stored()) >= 200, { timeoutMs: 15_000, what: '200 readings before the kill' });
    backend.child.kill('SIGKILL');
    await backend.waitForExit(5000);
    const atKill = published;
    // The stream goes on while the backend is down: the broker queues it for the persistent session.
    await waitFor(() => published >= atKill + 20, { timeoutMs: 10_000, what: 'messages published while the backend is down' });
    backend = await startCli('backend', args);
    await stream;
    const total = 1 + MESSAGES * PER_MESSAGE;
    await waitFor(async () => (await stored()) === total, { timeoutMs: 20_000, what: `all ${total} readings after the restart` });

    const rows = await allReadings(base, DEVICE, T0, T0 + 10_000_000);
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(rows.map((row) => row.boot))).toEqual(new Set(['boot-a']));
    expect((await apiGet<{ gaps: unknown[] }>(base, `/api/v1/devices/${DEVICE}/gaps`)).body.gaps).toEqual([]);
    const ingest = await apiGet<{ uncommittedReadings: number }>(base, '/api/v1/admin/ingest', ADMIN_TOKEN);
    expect(ingest.body.uncommittedReadings).toBe(0);
  });
});
