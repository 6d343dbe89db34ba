// The InfluxDB store's v2 write path (/api/v2/write through @influxdata/influxdb-client) against a
// real server that implements it: VictoriaMetrics. Readings go in through the backend (MQTT in,
// the real ingest), and every point is read back through VictoriaMetrics' export API and compared
// with what was sent: nothing lost, nothing doubled, tags and values exact.
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Reading, ReadingBatch } from '../contract/index.js';
import { apiGet, publishBatch, waitUntilSubscribed } from './helpers/backend-http.js';
import { freePort } from './helpers/free-port.js';
import { describeWithProgram } from './helpers/require-program.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';
import { type TestBroker, USERS, connectAs, startTestBroker } from './helpers/test-broker.js';
import { type VictoriaMetrics, exportSeries, startVictoriaMetrics } from './helpers/victoria-metrics.js';
import { waitFor } from './helpers/wait-for.js';

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
  let vm: VictoriaMetrics | undefined;
  let broker: TestBroker;
  let publisher: MqttClient;
  let backend: TestBackend | undefined;
  beforeEach(async () => {
    broker = await startTestBroker();
    publisher = await connectAs(broker.url, USERS.admin);
  });
  afterEach(async () => {
    await backend?.close();
    await publisher.endAsync();
    await broker.stop();
    await vm?.stop();
    vm = undefined;
  });

  /** Settings of a backend that writes to `url` in v2 mode. */
  const startWith = async (url: string, influx: Record<string, unknown> = {}) =>
    (backend = await startTestBackend({
      mqttUrl: broker.url,
      settings: {
        store: { kind: 'influxdb', influx: { url, writeMode: 'v2', bucket: 'furnace', org: 'plant', ...influx } },
        ingest: { batchMaxDelayMs: 20 },
        mqtt: { username: USERS.backend.username, password: USERS.backend.password },
      },
    }));

  it('stores every reading once, with exact tags, times and values; a redelivered batch is not written again', async () => {
    vm = await startVictoriaMetrics();
    const { base } = await startWith(vm.url, { batchSize: 97 });
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
          if (value === undefined ? values !== undefined : values?.[0] !== value)
            wrong.push(`${batch.device}/${r.seq} ${field}: ${String(values)} != ${value}`);
        }
        if ((fields.get('receivedAt')?.[0] ?? 0) < T0) wrong.push(`${batch.device}/${r.seq} receivedAt`);
      }
    }
    console.log(
      `v2 writes to VictoriaMetrics: sent ${total} readings (${sent.length} batches, a third sent twice), stored ${got.size}, lost ${lost}, doubled ${doubled}`,
    );
    expect({ lost, doubled, wrong: wrong.slice(0, 10), stored: got.size }).toEqual({ lost: 0, doubled: 0, wrong: [], stored: total });
  });

  it(
    'holds readings while the server is not there (/readyz says why), and writes each once when it comes up',
    { timeout: 60_000 },
    async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const { base } = await startWith(url, { retryForMs: 500 });
      // Once on the broker (what /readyz would say first), only the store is missing.
      const why = await waitFor(
        async () => {
          const ready = await apiGet<{ message: string }>(base, '/readyz', null);
          return ready.status === 503 && ready.body.message.startsWith('store not writable') ? ready.body.message : undefined;
        },
        { timeoutMs: 15_000, what: '/readyz to say only that the store does not answer' },
      );
      expect(why).toContain(`InfluxDB at ${url} does not answer: ECONNREFUSED (store.influx.url)`);
      for (const batch of batchesOf('furnace-late', 'boot-1', 300, 30)) await publishBatch(publisher, batch);
      expect((await apiGet<{ devices: unknown[] }>(base, '/api/v1/devices')).body.devices).toEqual([]); // nothing acknowledged as stored
      const up = (vm = await startVictoriaMetrics({ port }));
      await waitFor(async () => (await apiGet<{ readings: number }>(base, '/api/v1/devices/furnace-late')).body.readings === 300, {
        timeoutMs: 30_000,
        what: 'the backend to store the 300 readings once the server is up',
      });
      const seqs = (await exportSeries(up, 'readings_seq')).flatMap((series) => series.values);
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      expect((await apiGet(base, '/readyz', null)).status).toBe(200);
    },
  );
});
