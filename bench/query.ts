// Query latency under ingest load: the backend (its own process, SQLite) answering /latest and a
// 24-hour aggregate in 1-minute buckets over 1 reading/s, next to InfluxDB 1.6 answering the same
// aggregate over the same data, both taking the same live write load, in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { READ_TOKEN, waitUntilSubscribed, writeBackendConfig } from '../test/helpers/backend-http.js';
import { startCli } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/free-port.js';
import { startInfluxDb } from '../test/helpers/influxdb.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import type { Reading, ReadingBatch } from '../contract/index.js';

const DEVICE = 'bench-history';
const LIVE_DEVICES = 20;
const DAY_MS = 86_400_000;

function reading(seq: number, ts: number, value: number): Reading {
  return { seq, ts, sensor: 'tc1', value, unit: 'C', quality: 'good', clock: 'synced', replay: false };
}

const valueAt = (ts: number) => 800 + 50 * Math.sin(ts / 600_000) + ((ts / 1000) % 7) / 10;
const line = (device: string, r: Reading) => `readings,device=${device},sensor=${r.sensor} value=${r.value ?? 0} ${r.ts}`;

async function influxWrite(url: string, lines: string[]): Promise<void> {
  const response = await fetch(`${url}/write?db=furnace&precision=ms`, { method: 'POST', body: lines.join('\n') });
  if (response.status !== 204) throw new Error(`InfluxDB /write answered ${response.status}: ${await response.text()}`);
}

async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await call();
  return { ms: performance.now() - started, value };
}

function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN).toFixed(2).padStart(8);
  return `  ${name.padEnd(44)} p50 ${at(0.5)} ms   p95 ${at(0.95)} ms   p99 ${at(0.99)} ms   max ${at(1)} ms`;
}

/** 1000 readings/s of 20 live devices: to the backend over MQTT and to InfluxDB over /write, until stopped. */
function startLiveLoad(client: MqttClient, influxUrl: string): { stop: () => Promise<number> } {
  let running = true;
  let sent = 0;
  const loop = (async () => {
    for (let seq = 1; running; seq += 5) {
      const now = Date.now();
      const lines: string[] = [];
      for (let d = 0; d < LIVE_DEVICES; d++) {
        const readings = Array.from({ length: 5 }, (_, i) => reading(seq + i, now - (4 - i) * 10, valueAt(now)));
        const batch: ReadingBatch = { v: 1, device: `live-${d}`, boot: 'bench', readings };
        await client.publishAsync(`telemetry/v1/${batch.device}/readings`, JSON.stringify(batch), { qos: 1 });
        lines.push(...readings.map((r) => line(batch.device, r)));
      }
      await influxWrite(influxUrl, lines);
      sent += LIVE_DEVICES * 5;
      await new Promise((resolve) => setTimeout(resolve, 100)); // the pace of the load, not a synchronisation
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return sent;
    },
  };
}

export async function run(): Promise<void> {
  const rounds = Number(process.env.BENCH_QUERY_ROUNDS ?? 100);
  const dir = mkdtempSync(join(tmpdir(), 'bench-query-'));
  const mosquitto = await startMosquitto();
  const influx = await startInfluxDb();
  const httpPort = await freePort();
  const config = writeBackendConfig(dir);
  const backend = await startCli(
    'backend',
    [
      '--config',
      config,
      '--host',
      '127.0.0.1',
      '--port',
      String(httpPort),
      '--mqtt-url',
      mosquitto.url,
      '--data-dir',
      join(dir, 'backend'),
    ],
    { FURNACE_BACKEND_RATE_LIMIT_PER_MINUTE: '1000000' },
    // e.g. BENCH_BACKEND_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof", as for the pipeline bench.
    (process.env.BENCH_BACKEND_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  const api = `http://127.0.0.1:${httpPort}/api/v1`;
  const headers = { authorization: `Bearer ${READ_TOKEN}` };
  const client = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 4 });
  try {
    await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: 'CREATE DATABASE furnace' }) });
    // Messages published before the backend's SUBSCRIBE reaches the broker would be dropped.
    await waitUntilSubscribed(`http://127.0.0.1:${httpPort}`, client, {
      v: 1,
      device: 'bench-probe',
      boot: 'bench',
      readings: [reading(1, Date.now(), 1)],
    });
    // 24 hours of one reading per second, ending at a whole minute: exactly 1440 buckets.
    const end = Math.floor(Date.now() / 60_000) * 60_000;
    const start = end - DAY_MS;
    process.stdout.write(
      `query latency: 24 h of 1 reading/s (86 400 readings), then ${rounds} rounds under a live load aimed at ${LIVE_DEVICES * 50} readings/s\n`,
    );
    for (let from = 0; from < 86_400; from += 1000) {
      const readings = Array.from({ length: 1000 }, (_, i) =>
        reading(from + i + 1, start + (from + i) * 1000, valueAt(start + (from + i) * 1000)),
      );
      const batch: ReadingBatch = { v: 1, device: DEVICE, boot: 'bench', readings };
      await client.publishAsync(`telemetry/v1/${DEVICE}/readings`, JSON.stringify(batch), { qos: 1 });
      await influxWrite(
        influx.url,
        readings.map((r) => line(DEVICE, r)),
      );
    }
    for (let stored = 0, deadline = Date.now() + 120_000; stored < 86_400;) {
      if (Date.now() > deadline) throw new Error(`the backend stored ${stored} of 86 400 readings in 2 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 200)); // polling for the backend to store it all
      const response = await fetch(`${api}/devices/${DEVICE}`, { headers });
      if (response.ok) stored = ((await response.json()) as { readings: number }).readings;
    }

    const aggregateUrl = `${api}/devices/${DEVICE}/readings?sensor=tc1&from=${start}&to=${end}&every=1m&agg=mean&limit=2000`;
    const influxQuery = `SELECT mean("value") FROM "readings" WHERE "device"='${DEVICE}' AND "sensor"='tc1' AND time >= ${start}ms AND time < ${end}ms GROUP BY time(1m) fill(none)`;
    const influxUrl = `${influx.url}/query?db=furnace&epoch=ms&q=${encodeURIComponent(influxQuery)}`;
    const calls = {
      latest: async (): Promise<unknown> => (await fetch(`${api}/devices/${DEVICE}/latest`, { headers })).json(),
      ours: async () => ((await (await fetch(aggregateUrl, { headers })).json()) as { points: Array<{ value: number }> }).points,
      influx: async () =>
        ((await (await fetch(influxUrl)).json()) as { results: Array<{ series?: Array<{ values: Array<[number, number]> }> }> }).results[0]
          ?.series?.[0]?.values ?? [],
    };
    // Same answer from both, or the comparison means nothing.
    const [ours, theirs] = [await calls.ours(), await calls.influx()];
    const worst = Math.max(...ours.map((point, i) => Math.abs(point.value - (theirs[i]?.[1] ?? Number.NaN))));
    if (ours.length !== 1440 || theirs.length !== 1440 || !(worst < 1e-6)) {
      throw new Error(`the answers differ: backend ${ours.length} points, InfluxDB ${theirs.length}, largest difference ${worst}`);
    }

    const load = startLiveLoad(client, influx.url);
    const samples = { latest: [] as number[], ours: [] as number[], influx: [] as number[] };
    const loadStart = performance.now();
    for (let round = -10; round < rounds; round++) {
      for (const name of ['latest', 'ours', 'influx'] as const) {
        const { ms } = await timed(calls[name]);
        if (round >= 0) samples[name].push(ms); // the first ten rounds warm up
      }
    }
    const sent = await load.stop();
    const seconds = (performance.now() - loadStart) / 1000;
    process.stdout.write(`${summary('backend  GET /latest', samples.latest)}\n`);
    process.stdout.write(`${summary('backend  24 h in 1 min buckets (mean)', samples.ours)}\n`);
    process.stdout.write(`${summary('InfluxDB 1.6 same aggregate (reference)', samples.influx)}\n`);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    process.stdout.write(
      `  ${'aggregate p50 ratio (ours / reference)'.padEnd(44)} ${(median(samples.ours) / median(samples.influx)).toFixed(2)}x\n`,
    );
    process.stdout.write(`  ${'live load while measuring'.padEnd(44)} ${Math.round(sent / seconds)} readings/s to each\n`);
  } finally {
    await client.endAsync();
    await backend.stop();
    await influx.stop();
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
