// The two reading stores side by side, in the same run: the backend (its own process) ingesting
// the same readings over MQTT into SQLite and into InfluxDB 1.6 (store.kind influxdb, v1 writes),
// readings/s from the first publish until the API counts them all; then the same 24 h aggregate
// in 1-minute buckets through our API on each, with the answers checked equal.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Reading, ReadingBatch } from '../contract/index.js';
import { READ_TOKEN, waitUntilSubscribed, writeBackendConfig } from '../test/helpers/backend-http.js';
import { startCli } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/free-port.js';
import { startInfluxDb } from '../test/helpers/influxdb.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';

const DAY_S = 86_400;
const BATCH = 1000;

const valueAt = (ts: number) => 800 + 50 * Math.sin(ts / 600_000) + ((ts / 1000) % 7) / 10;

/** 24 h of one reading a second per device, ending at a whole minute, in batches as an agent's replay sends them. */
function dayOfReadings(device: string, end: number): ReadingBatch[] {
  const start = end - DAY_S * 1000;
  const batches: ReadingBatch[] = [];
  for (let from = 0; from < DAY_S; from += BATCH) {
    const readings: Reading[] = Array.from({ length: Math.min(BATCH, DAY_S - from) }, (_, i) => {
      const ts = start + (from + i) * 1000;
      return { seq: from + i + 1, ts, sensor: 'tc1', value: valueAt(ts), unit: 'C', quality: 'good', clock: 'synced', replay: true };
    });
    batches.push({ v: 1, device, boot: 'bench', readings });
  }
  return batches;
}

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

interface StoreFigures {
  readingsPerSecond: number;
  aggregateMs: number[];
  points: Array<{ value: number }>;
}

async function measure(
  kind: 'sqlite' | 'influxdb',
  batches: ReadingBatch[],
  devices: string[],
  end: number,
  rounds: number,
  env: Record<string, string>,
): Promise<StoreFigures> {
  const dir = mkdtempSync(join(tmpdir(), `bench-stores-${kind}-`));
  const mosquitto = await startMosquitto();
  const port = await freePort();
  const backend = await startCli(
    'backend',
    [
      '--config',
      writeBackendConfig(dir),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--mqtt-url',
      mosquitto.url,
      '--data-dir',
      join(dir, 'backend'),
      '--store',
      kind,
    ],
    { FURNACE_BACKEND_RATE_LIMIT_PER_MINUTE: '1000000', ...env },
  );
  const client = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 4 });
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${READ_TOKEN}` };
  try {
    await waitUntilSubscribed(base, client, {
      v: 1,
      device: 'bench-probe',
      boot: 'bench',
      readings: [{ seq: 1, ts: end, sensor: 'tc1', value: 1, unit: 'C', quality: 'good', clock: 'synced', replay: false }],
    });
    const total = batches.reduce((sum, batch) => sum + batch.readings.length, 0);
    const started = performance.now();
    await Promise.all(
      batches.map((batch) => client.publishAsync(`telemetry/v1/${batch.device}/readings`, JSON.stringify(batch), { qos: 1 })),
    );
    for (let stored = 0, deadline = Date.now() + 300_000; stored < total;) {
      if (Date.now() > deadline) throw new Error(`${kind}: the backend stored ${stored} of ${total} readings in 5 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 100)); // polling for the backend to store it all
      const body = (await (await fetch(`${base}/api/v1/devices`, { headers })).json()) as {
        devices: Array<{ device: string; readings: number }>;
      };
      stored = body.devices.filter((d) => devices.includes(d.device)).reduce((sum, d) => sum + d.readings, 0);
    }
    const readingsPerSecond = total / ((performance.now() - started) / 1000);
    const url = `${base}/api/v1/devices/${devices[0] ?? ''}/readings?sensor=tc1&from=${end - DAY_S * 1000}&to=${end}&every=1m&agg=mean&limit=2000`;
    const aggregateMs: number[] = [];
    let points: Array<{ value: number }> = [];
    for (let round = -5; round < rounds; round++) {
      const t = performance.now();
      const response = await fetch(url, { headers });
      points = ((await response.json()) as { points: Array<{ value: number }> }).points;
      if (!response.ok) throw new Error(`${kind}: the aggregate answered ${response.status}`);
      if (round >= 0) aggregateMs.push(performance.now() - t); // the first five warm up
    }
    return { readingsPerSecond, aggregateMs, points };
  } finally {
    await client.endAsync();
    await backend.stop();
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const deviceCount = Number(process.env.BENCH_STORES_DEVICES ?? 4);
  const rounds = Number(process.env.BENCH_STORES_ROUNDS ?? 50);
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const devices = Array.from({ length: deviceCount }, (_, i) => `bench-store-${i}`);
  const batches = devices.flatMap((device) => dayOfReadings(device, end));
  const total = batches.reduce((sum, batch) => sum + batch.readings.length, 0);
  process.stdout.write(
    `stores: ${total} readings (${deviceCount} devices x 24 h at 1/s, batches of ${BATCH}) over MQTT into the backend; then ${rounds} 24 h aggregates in 1 min buckets\n`,
  );
  const sqlite = await measure('sqlite', batches, devices, end, rounds, {});
  const influx = await startInfluxDb();
  let influxdb: StoreFigures;
  try {
    influxdb = await measure('influxdb', batches, devices, end, rounds, {
      FURNACE_BACKEND_STORE_INFLUX_URL: influx.url,
      FURNACE_BACKEND_STORE_INFLUX_DATABASE: 'bench',
    });
  } finally {
    await influx.stop();
  }
  const worst = Math.max(...sqlite.points.map((point, i) => Math.abs(point.value - (influxdb.points[i]?.value ?? Number.NaN))));
  if (sqlite.points.length !== 1440 || influxdb.points.length !== 1440 || !(worst < 1e-6)) {
    throw new Error(
      `the answers differ: SQLite ${sqlite.points.length} points, InfluxDB ${influxdb.points.length}, largest difference ${worst}`,
    );
  }
  const line = (name: string, figures: StoreFigures) =>
    `  ${name.padEnd(24)} ingest ${Math.round(figures.readingsPerSecond).toString().padStart(7)} readings/s   24 h aggregate p50 ${percentile(figures.aggregateMs, 0.5).toFixed(1).padStart(6)} ms   p95 ${percentile(figures.aggregateMs, 0.95).toFixed(1).padStart(6)} ms\n`;
  process.stdout.write(line('SQLite (reference)', sqlite));
  process.stdout.write(line('InfluxDB 1.6 (v1 writes)', influxdb));
  process.stdout.write(
    `  ${'InfluxDB / SQLite'.padEnd(24)} ingest ${(influxdb.readingsPerSecond / sqlite.readingsPerSecond).toFixed(2)}x   aggregate p50 ${(percentile(influxdb.aggregateMs, 0.5) / percentile(sqlite.aggregateMs, 0.5)).toFixed(2)}x\n`,
  );
}
