// The client load of the pipeline bench: P emulated devices, each its own broker user with
// client id = user name, publishing contract readings batches of K readings at QoS 1 with up to
// WINDOW messages in flight each (publish without waiting, bounded by a semaphore that a PUBACK
// releases), as a busy agent fleet replaying its outboxes would. The same load goes to every
// broker measured, so the payloads are built the same cheap way for each.
import mqtt, { type MqttClient } from 'mqtt';
import { CONTRACT_VERSION, topics } from '../contract/index.js';

export const WINDOW = 100;
/** Every SAMPLE_EVERY-th batch of a device is timed from publish to commit. */
export const SAMPLE_EVERY = 100;

export interface Credentials {
  username: string;
  password: string;
}

export interface DeviceCounters {
  device: string;
  /** The last seq published (seq starts at 1 and has no holes). */
  lastSeq: number;
  /** Batches whose PUBACK came back. */
  acked: number;
  /** Publishes that failed (connection lost): their readings cannot be expected anywhere. */
  errors: number;
}

export interface Load {
  devices: DeviceCounters[];
  /** Readings published so far, all devices. */
  published: () => number;
  /** Stops publishing, waits (bounded) for the messages in flight to be acknowledged, disconnects. */
  stop: () => Promise<void>;
}

/** `(device, lastSeq, at)` of a sampled batch, at = performance.now() when it was published. */
export type SampleSink = (device: string, lastSeq: number, at: number) => void;

export const BOOT = `bench-${process.pid}`;

/** A ReadingBatch as JSON, built by hand: JSON.stringify of K objects would cost the bench's CPU, not the brokers'. */
export function batchPayload(device: string, firstSeq: number, k: number): string {
  const ts = Date.now();
  const readings: string[] = [];
  for (let i = 0; i < k; i++) {
    const seq = firstSeq + i;
    readings.push(
      `{"seq":${seq},"ts":${ts - (k - 1 - i)},"sensor":"tc1","value":${800 + (seq % 100) / 10},"unit":"C","quality":"good","clock":"synced","replay":false}`,
    );
  }
  return `{"v":${CONTRACT_VERSION},"device":"${device}","boot":"${BOOT}","readings":[${readings.join(',')}]}`;
}

export function connectClient(url: string, user: Credentials, clientId: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 4, clientId, username: user.username, password: user.password, reconnectPeriod: 0 });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)); // polling the in-flight count at stop

/** Connects every device and starts publishing at once; `sample` is called for every SAMPLE_EVERY-th batch. */
export async function startLoad(url: string, users: Credentials[], k: number, sample: SampleSink): Promise<Load> {
  const clients = await Promise.all(users.map((user) => connectClient(url, user, user.username)));
  let running = true;
  const devices: DeviceCounters[] = users.map((user) => ({ device: user.username, lastSeq: 0, acked: 0, errors: 0 }));
  const inFlight = devices.map(() => 0);
  clients.forEach((client, d) => {
    const counters = devices[d] as DeviceCounters;
    const topic = topics.readings(counters.device);
    let batches = 0;
    const pump = () => {
      while (running && (inFlight[d] ?? 0) < WINDOW) {
        const first = counters.lastSeq + 1;
        counters.lastSeq += k;
        inFlight[d] = (inFlight[d] ?? 0) + 1;
        if (++batches % SAMPLE_EVERY === 0) sample(counters.device, counters.lastSeq, performance.now());
        client.publish(topic, batchPayload(counters.device, first, k), { qos: 1 }, (error) => {
          inFlight[d] = (inFlight[d] ?? 1) - 1;
          if (error) counters.errors++;
          else counters.acked++;
          // Out of the publish callback's stack: a synchronous refill would recurse per PUBACK.
          if (running) setImmediate(pump);
        });
      }
    };
    pump();
  });
  return {
    devices,
    published: () => devices.reduce((sum, device) => sum + device.lastSeq, 0),
    stop: async () => {
      running = false;
      const deadline = Date.now() + 30_000;
      while (inFlight.some((n) => n > 0) && Date.now() < deadline) await sleep(20);
      await Promise.all(clients.map((client) => client.endAsync(true)));
    },
  };
}
