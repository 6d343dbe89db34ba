// The InfluxDB store's v2 write path (/api/v2/write through @influxdata/influxdb-client) against a
// real server that implements it: VictoriaMetrics. Readings go in through the backend (MQTT in,
// the real ingest), and every point is read back through VictoriaMetrics' export API and compared
// with what was sent: nothing lost, nothing doubled, tags and values exact.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type RunningBackend, loadBackendConfig, startBackend } from '../backend/index.js';
import type { Reading, ReadingBatch } from '../contract/index.js';
import { apiGet, publishBatch, waitUntilSubscribed, writeBackendConfig } from './helpers/backend-http.js';
import { describeWithProgram } from './helpers/require-program.js';
import { type TestBroker, USERS, connectAs, startTestBroker } from './helpers/test-broker.js';
import { type VictoriaMetrics, exportSeries, startVictoriaMetrics } from './helpers/victoria-metrics.js';
import { waitFor } from './helpers/wait-for.js';

const log = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 0, 1);
// Ids at the edges of what the contract allows (1 to 64 of A-Z a-z 0-9 _ -). Values as plants read
// them: VictoriaMetrics stores a block of samples with one decimal exponent (its docs: "Precision
// loss"), so -0.5 beside 1.7e308 would come back 0; the float extremes are checked against
// InfluxDB 1.6 in the ReadingStore contract instead.
const DEVICES = ['furnace-1', 'A_b-9', 'x'.repeat(64), '-'];
const SENSORS = ['tc1', 'Zone_2-outer'];
const VALUES = [800, -0.5, 1234.5678, 0, 0.001, -273.15, 65_535, 99_999.99];

function batchesOf(device: string, boot: string, count: number, perBatch: number): ReadingBatch[] {
  const batches: ReadingBatch[] = [];
  for (let first = 1; first <= count; first += perBatch) {
    const readings: Reading[] = [];
    for (let seq = first; seq < first + perBatch && seq <= count; seq++) {
      const bad = seq % 17 === 0;
      readings.push({
        seq,
        ts: T0 + seq * 250,
        sensor: SENSORS[seq % SENSORS.length] ?? 'tc1',
        value: bad ? null : (VALUES[seq % VALUES.length] ?? 1),
        unit: seq % 2 ? 'C' : 'a "b" \\ c, d=e',
        quality: bad ? 'bad' : 'good',
        clock: 'synced',
        replay: seq % 5 === 0,
      });
    }
    batches.push({ v: 1, device, boot, readings });
  }
  return batches;
}

describeWithProgram('victoria-metrics', 'victoria-metrics', 'InfluxDB store, v2 writes, against VictoriaMetrics', () => {
  let dir: string;
  let vm: VictoriaMetrics;
  let broker: TestBroker;
  let publisher: MqttClient;
  let backend: RunningBackend | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'influx-v2-'));
    vm = await startVictoriaMetrics();
    broker = await startTestBroker();
    publisher = await connectAs(broker.url, USERS.admin);
  });
  afterEach(async () => {
    await backend?.close();
    await publisher.endAsync();
    await broker.stop();
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every reading once, with exact tags, times and values; a redelivered batch is not written again', async () => {
    const file = writeBackendConfig(dir, {
      store: { kind: 'influxdb', influx: { url: vm.url, writeMode: 'v2', bucket: 'furnace', org: 'plant', batchSize: 97 } },
      ingest: { batchMaxDelayMs: 20 },
      mqtt: { username: USERS.backend.username, password: USERS.backend.password },
    });
    const config = loadBackendConfig(file, {}, { 'http.host': '127.0.0.1', 'http.port': '0', 'mqtt.url': broker.url, dataDir: join(dir, 'backend') });
    const started = (backend = await startBackend(config, log));
    const base = `http://127.0.0.1:${started.port}`;
    const sent = DEVICES.flatMap((device, i) => batchesOf(device, `boot-${i}`, 400, 50));
    const first = sent[0] as ReadingBatch;
    await waitUntilSubscribed(base, publisher, { ...first, readings: first.readings.slice(0, 1) });
    for (const batch of sent) await publishBatch(publisher, batch);
    // Redeliveries: QoS 1 duplicates and an outbox replay of whole batches.
    for (const batch of sent.filter((_, i) => i % 3 === 0)) await publishBatch(publisher, batch);
    const total = sent.reduce((sum, batch) => sum + batch.readings.length, 0);
    await waitFor(
      async () => {
        const { devices } = (await apiGet<{ devices: Array<{ readings: number }> }>(base, '/api/v1/devices')).body;
        return devices.reduce((sum, d) => sum + d.readings, 0) === total;
      },
      { timeoutMs: 30_000, what: `the backend to store ${total} readings` },
    );
    expect((await apiGet(base, '/readyz', null)).status).toBe(200);

    // Every sample VictoriaMetrics holds, by reading: (device, boot, sensor, ts) -> field -> values.
    const got = new Map<string, Map<string, number[]>>();
    for (const series of await exportSeries(vm, 'readings_.*')) {
      const field = (series.metric.__name__ ?? '').replace(/^readings_/, '');
      const { device, boot, sensor } = series.metric;
      series.timestamps.forEach((ts, i) => {
        const key = `${device}|${boot}|${sensor}|${ts}`;
        const fields = got.get(key) ?? new Map<string, number[]>();
        fields.set(field, [...(fields.get(field) ?? []), series.values[i] as number]);
        got.set(key, fields);
      });
    }
    let lost = 0;
    let doubled = 0;
    const wrong: string[] = [];
    for (const batch of sent) {
      for (const r of batch.readings) {
        const fields = got.get(`${batch.device}|${batch.boot}|${r.sensor}|${r.ts}`);
        if (!fields) {
          lost++;
          continue;
        }
        if ((fields.get('seq') ?? []).length > 1) doubled++;
        const expected: Record<string, number | undefined> = { seq: r.seq, replay: r.replay ? 1 : 0, value: r.value ?? undefined };
        for (const [field, value] of Object.entries(expected)) {
          const values = fields.get(field);
          if (value === undefined ? values !== undefined : values?.[0] !== value) wrong.push(`${batch.device}/${r.seq} ${field}: ${String(values)} != ${value}`);
        }
        if ((fields.get('receivedAt')?.[0] ?? 0) < T0) wrong.push(`${batch.device}/${r.seq} receivedAt`);
      }
    }
    console.log(`v2 writes to VictoriaMetrics: sent ${total} readings (${sent.length} batches, a third sent twice), stored ${got.size}, lost ${lost}, doubled ${doubled}`);
    expect({ lost, doubled, wrong: wrong.slice(0, 10), stored: got.size }).toEqual({ lost: 0, doubled: 0, wrong: [], stored: total });
  });
});
