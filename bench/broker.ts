// Broker throughput: QoS 1 readings batches from one publisher to one subscriber, through
// furnace-broker (aedes, run as its own process) and through Mosquitto in the same run.
import { join } from 'node:path';
import mqtt from 'mqtt';
import { CONTRACT_VERSION, type ReadingBatch, encodePayload, topics } from '../contract/index.js';
import { DIST_DIR } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/free-port.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { startProcess } from '../test/helpers/process.js';

export interface ThroughputResult {
  name: string;
  messagesPerSecond: number;
}

const DEVICE = 'bench-1';
const WINDOW = 100; // QoS 1 messages in flight at once, as a busy agent fleet keeps them

function samplePayload(seq: number): Buffer {
  const batch: ReadingBatch = {
    v: CONTRACT_VERSION,
    device: DEVICE,
    boot: 'bench',
    readings: Array.from({ length: 10 }, (_, i) => ({
      seq: seq * 10 + i + 1,
      ts: Date.now(),
      sensor: 'tc1',
      value: 800 + i / 10,
      unit: 'C',
      quality: 'good' as const,
      clock: 'synced' as const,
      replay: false,
    })),
  };
  return encodePayload(batch);
}

async function measure(name: string, url: string, messages: number): Promise<ThroughputResult> {
  const subscriber = await mqtt.connectAsync(url, { protocolVersion: 4 });
  const publisher = await mqtt.connectAsync(url, { protocolVersion: 4 });
  await subscriber.subscribeAsync(topics.readings(DEVICE), { qos: 1 });
  const payloads = Array.from({ length: messages }, (_, i) => samplePayload(i));
  let received = 0;
  const allReceived = new Promise<void>((resolve) =>
    subscriber.on('message', () => {
      if (++received === messages) resolve();
    }),
  );
  const started = process.hrtime.bigint();
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    let acked = 0;
    const sendNext = () => {
      const payload = payloads[sent++];
      if (!payload) return;
      publisher.publish(topics.readings(DEVICE), payload, { qos: 1 }, (error) => {
        if (error) return reject(error);
        if (++acked === messages) return resolve();
        sendNext();
      });
    };
    for (let i = 0; i < WINDOW; i++) sendNext();
  });
  await allReceived;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await publisher.endAsync();
  await subscriber.endAsync();
  return { name, messagesPerSecond: messages / seconds };
}

async function benchBrokerThroughput(messages: number): Promise<ThroughputResult[]> {
  const port = await freePort();
  const broker = await startProcess(process.execPath, [join(DIST_DIR, 'broker', 'cli.js'), '--port', String(port), '--host', '127.0.0.1'], {
    readyLine: /MQTT listener ready/,
  });
  const mosquitto = await startMosquitto();
  try {
    // Warm both up so JIT and socket buffers do not count against the first one measured.
    await measure('warm-up', `mqtt://127.0.0.1:${port}`, 500);
    await measure('warm-up', mosquitto.url, 500);
    return [
      await measure('furnace-broker (aedes)', `mqtt://127.0.0.1:${port}`, messages),
      await measure('mosquitto (reference)', mosquitto.url, messages),
    ];
  } finally {
    await broker.stop();
    await mosquitto.stop();
  }
}

/** Prints the broker's relay rate beside Mosquitto's, measured in the same run. */
export async function run(): Promise<void> {
  const messages = Number(process.env.BENCH_MESSAGES ?? 5000);
  process.stdout.write(`broker throughput: ${messages} QoS 1 batches of 10 readings, 1 publisher -> 1 subscriber, ${WINDOW} in flight\n`);
  const [ours, reference] = await benchBrokerThroughput(messages);
  if (!ours || !reference) throw new Error('benchmark produced no figures');
  for (const result of [ours, reference]) {
    process.stdout.write(`  ${result.name.padEnd(26)} ${Math.round(result.messagesPerSecond).toLocaleString('en').padStart(8)} msg/s\n`);
  }
  process.stdout.write(`  ${'ratio (ours / reference)'.padEnd(26)} ${(ours.messagesPerSecond / reference.messagesPerSecond).toFixed(2).padStart(8)}x\n`);
}
