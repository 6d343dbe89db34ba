// Alert latency at 1,000 readings/s: simulated agents publish readings batches through
// furnace-broker (its own process) to the backend (its own process, SQLite, one threshold rule
// with `for: 0` over every device); each device crosses the threshold and back every second.
// Measured: from publishing the batch that crosses to receiving the alert event on
// alerts/v1/events. Reference, in the same run and under the same load: from publishing any
// batch to a plain MQTT subscriber of telemetry/v1/+/readings receiving it (the broker's relay
// alone, the first leg of the alert's path).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { type AlertTransition, CONTRACT_VERSION, type Reading, type ReadingBatch, filters, topics } from '../contract/index.js';
import { startCli } from '../test/helpers/cli.js';
import { freePorts } from '../test/helpers/free-port.js';

const DEVICES = 20;
const BATCH_READINGS = 5;
const BATCH_INTERVAL_MS = 100; // 20 devices x 5 readings x 10 batches/s = 1,000 readings/s
const CYCLE_BATCHES = 10; // one second: 5 batches above the limit, 5 under it
const ABOVE = 900;
const CLEAR_ABOVE = 850;
const RULE = 'bench-overheat';

const RULES_YAML = `- id: ${RULE}
  kind: threshold
  match: { device: "bench-*", sensor: tc1 }
  severity: critical
  above: ${ABOVE}
  clearAbove: ${CLEAR_ABOVE}
  for: 0
`;

/** Publish times, by what the receiver can see: `device/value` for alert events, `device/seq` for batches. */
type SentAt = Map<string, number>;

interface Samples {
  firing: number[];
  resolved: number[];
  relay: number[];
  crossings: number;
  clears: number;
  batches: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * One simulated agent: a batch every BATCH_INTERVAL_MS; the first batch of each cycle goes above
 * the limit with a value unique to the cycle (so the event names the crossing it answers), the
 * sixth falls back under clearAbove, likewise unique.
 */
function startDevice(
  client: MqttClient,
  device: string,
  offsetMs: number,
  measuring: () => boolean,
  sent: { alerts: SentAt; relay: SentAt },
  samples: Samples,
) {
  const boot = `bench-${process.pid}`;
  const topic = topics.readings(device);
  let seq = 0;
  let batchIndex = 0;
  const publish = () => {
    const cycle = Math.floor(batchIndex / CYCLE_BATCHES);
    const phase = batchIndex % CYCLE_BATCHES;
    batchIndex++;
    const above = phase < CYCLE_BATCHES / 2;
    const value = above ? 1000 + (cycle % 500) : phase === CYCLE_BATCHES / 2 ? 700 + (cycle % 100) : 800 + phase;
    const now = Date.now();
    const readings: Reading[] = Array.from({ length: BATCH_READINGS }, (_, i) => ({
      seq: ++seq,
      ts: now - (BATCH_READINGS - 1 - i) * (BATCH_INTERVAL_MS / BATCH_READINGS),
      sensor: 'tc1',
      value,
      unit: 'C',
      quality: 'good',
      clock: 'synced',
      replay: false,
    }));
    const batch: ReadingBatch = { v: CONTRACT_VERSION, device, boot, readings };
    const at = performance.now();
    if (measuring()) {
      samples.batches++;
      sent.relay.set(`${device}/${readings[0]?.seq}`, at);
      if (phase === 0 || phase === CYCLE_BATCHES / 2) sent.alerts.set(`${device}/${value}`, at);
      if (phase === 0) samples.crossings++;
      if (phase === CYCLE_BATCHES / 2) samples.clears++;
    }
    client.publish(topic, JSON.stringify(batch), { qos: 1 }, (error) => {
      if (error) process.stderr.write(`bench alerts: ${device} publish failed: ${error.message}\n`);
    });
  };
  let timer: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    publish();
    timer = setInterval(publish, BATCH_INTERVAL_MS);
  }, offsetMs);
  return () => {
    clearTimeout(start);
    clearInterval(timer);
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)); // the bench's phases, not a synchronisation

export async function run(): Promise<void> {
  const warmupS = Number(process.env.BENCH_ALERTS_WARMUP_S ?? 5);
  const measureS = Number(process.env.BENCH_ALERTS_SECONDS ?? 25);
  process.stdout.write(
    `alert latency: ${DEVICES} devices x ${(BATCH_READINGS * 1000) / BATCH_INTERVAL_MS} readings/s in batches of ${BATCH_READINGS} (QoS 1) = ` +
      `${(DEVICES * BATCH_READINGS * 1000) / BATCH_INTERVAL_MS} readings/s -> furnace-broker -> backend (SQLite, one threshold rule, for: 0)\n` +
      `  every device crosses the limit and back once a second; warm-up ${warmupS} s, measured ${measureS} s\n` +
      // The backend judges a batch on arrival, beside its write, so the write-grouping delay should not show
      // in the alert latency; it is printed so a run with another value can be compared.
      `  backend ingest.batchMaxDelayMs ${process.env.FURNACE_BACKEND_INGEST_BATCH_MAX_DELAY_MS ?? '10 (default)'} ms (env FURNACE_BACKEND_INGEST_BATCH_MAX_DELAY_MS)\n`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'bench-alerts-'));
  const rulesFile = join(dir, 'rules.yaml');
  await writeFile(rulesFile, RULES_YAML);
  const [mqttPort, httpPort] = (await freePorts(2)) as [number, number];
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const broker = await startCli('broker', ['--host', '127.0.0.1', '--port', String(mqttPort), '--allow-anonymous']);
  const backend = await startCli(
    'backend',
    ['--host', '127.0.0.1', '--port', String(httpPort), '--mqtt-url', url, '--data-dir', join(dir, 'backend'), '--open-access'],
    { FURNACE_BACKEND_ALERTS_RULES_FILE: rulesFile },
  ).catch(async (error: unknown) => {
    await broker.stop();
    throw error;
  });
  const clients: MqttClient[] = [];
  const stops: Array<() => void> = [];
  try {
    const connect = async (clientId: string) => {
      const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, reconnectPeriod: 0 });
      clients.push(client);
      return client;
    };
    const sent = { alerts: new Map<string, number>(), relay: new Map<string, number>() };
    const samples: Samples = { firing: [], resolved: [], relay: [], crossings: 0, clears: 0, batches: 0 };
    let eventsSeen = 0;
    const alertSubscriber = await connect('bench-alerts');
    alertSubscriber.on('message', (_topic, payload) => {
      const now = performance.now();
      const event = JSON.parse(payload.toString()) as AlertTransition;
      eventsSeen++;
      if (event.rule !== RULE || (event.to !== 'firing' && event.to !== 'resolved') || event.from === event.to) return;
      const key = `${event.device}/${event.value ?? ''}`;
      const at = sent.alerts.get(key);
      if (at === undefined) return; // from the warm-up, or not an event this bench can time
      sent.alerts.delete(key);
      samples[event.to].push(now - at);
    });
    await alertSubscriber.subscribeAsync(filters.alertEvents, { qos: 1 });
    const relaySubscriber = await connect('bench-relay');
    relaySubscriber.on('message', (_topic, payload) => {
      const now = performance.now();
      const batch = JSON.parse(payload.toString()) as ReadingBatch;
      const key = `${batch.device}/${batch.readings[0]?.seq}`;
      const at = sent.relay.get(key);
      if (at === undefined) return;
      sent.relay.delete(key);
      samples.relay.push(now - at);
    });
    await relaySubscriber.subscribeAsync(filters.allReadings, { qos: 1 });

    let measuring = false;
    for (let d = 0; d < DEVICES; d++) {
      const device = `bench-${d + 1}`;
      const client = await connect(device);
      // Spread over the interval, as independent agents would be.
      stops.push(startDevice(client, device, (d * BATCH_INTERVAL_MS) / DEVICES, () => measuring, sent, samples));
    }
    await sleep(warmupS * 1000);
    if (eventsSeen === 0) {
      throw new Error(
        `no alert event on ${filters.alertEvents} after ${warmupS} s of crossings: is the alert engine wired into the backend?`,
      );
    }
    measuring = true;
    await sleep(measureS * 1000);
    measuring = false;
    for (const stop of stops) stop();
    await sleep(3000); // stragglers
    const row = (name: string, values: number[], of: number) => {
      const sorted = [...values].sort((a, b) => a - b);
      const cell = (p: number) => percentile(sorted, p).toFixed(2).padStart(9);
      return {
        line: `  ${name.padEnd(52)}${`${values.length}/${of}`.padStart(11)}${cell(50)}${cell(99)}\n`,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
      };
    };
    const firing = row('reading crosses -> firing event (alerts/v1/events)', samples.firing, samples.crossings);
    const resolved = row('reading clears -> resolved event', samples.resolved, samples.clears);
    const relay = row('batch -> telemetry subscriber (reference)', samples.relay, samples.batches);
    process.stdout.write(`  ${''.padEnd(52)}${'received'.padStart(11)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}\n`);
    process.stdout.write(firing.line + resolved.line + relay.line);
    const times = (value: number) => `${value.toFixed(1)}x`.padStart(9);
    process.stdout.write(`  ${'ratio (firing / reference)'.padEnd(63)}${times(firing.p50 / relay.p50)}${times(firing.p99 / relay.p99)}\n`);
    if (samples.firing.length < samples.crossings) {
      process.stdout.write(`  ${samples.crossings - samples.firing.length} crossings got no firing event within 3 s of the end\n`);
    }
  } finally {
    for (const stop of stops) stop();
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await backend.stop();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
