// A paced client load for the pipeline bench: the same devices, payloads and QoS 1 as the
// saturated load (pipeline-load.ts), but each device publishes at a fixed rate instead of as fast
// as PUBACKs come back. The schedule is absolute: message n of a device is due at
// start + n / rate, and every tick publishes whatever is due by now, so a late timer (GC, a busy
// event loop) is caught up on the next tick rather than drifting the rate down as a fixed sleep
// between publishes would. Devices are staggered within one period so their messages interleave.
// At most WINDOW messages are in flight per device: a pipeline that cannot keep up makes the
// load fall behind its schedule (reported as lag) instead of piling up in the client.
import type { MqttClient } from 'mqtt';
import { topics } from '../contract/index.js';
import { type Credentials, type DeviceCounters, type Load, type SampleSink, WINDOW, batchPayload, connectClient } from './pipeline-load.js';

/** How often the schedule is checked, ms: well under one period at the rates the bench uses. */
const TICK_MS = 1;

export interface PacedLoad extends Load {
  /** How far, at worst, a publish came after its scheduled time, ms (timer lateness or a full window). */
  maxLagMs: () => number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)); // polling the in-flight count at stop

interface PacedDevice {
  client: MqttClient;
  counters: DeviceCounters;
  topic: string;
  /** When message 0 of this device is due (performance.now()). */
  start: number;
  sent: number;
  inFlight: number;
}

/**
 * Connects every device and publishes `messagesPerS` batches of `k` readings per second per
 * device until stopped; `onPublish` is called for every batch, just before it is published.
 */
export async function startPacedLoad(
  url: string,
  users: Credentials[],
  k: number,
  messagesPerS: number,
  onPublish: SampleSink,
): Promise<PacedLoad> {
  if (!(messagesPerS > 0)) throw new RangeError(`messages per second per device must be > 0, not ${messagesPerS}`);
  const clients = await Promise.all(users.map((user) => connectClient(url, user, user.username)));
  const periodMs = 1000 / messagesPerS;
  const t0 = performance.now();
  const devices: PacedDevice[] = clients.map((client, d) => {
    const device = users[d]?.username ?? `device-${d}`;
    const counters: DeviceCounters = { device, lastSeq: 0, acked: 0, errors: 0 };
    return { client, counters, topic: topics.readings(device), start: t0 + (periodMs * d) / clients.length, sent: 0, inFlight: 0 };
  });
  let running = true;
  let maxLagMs = 0;
  const publishDue = (device: PacedDevice, now: number) => {
    const due = Math.floor((now - device.start) / periodMs) + 1;
    while (running && device.sent < due && device.inFlight < WINDOW) {
      maxLagMs = Math.max(maxLagMs, now - (device.start + device.sent * periodMs));
      const { counters } = device;
      const first = counters.lastSeq + 1;
      counters.lastSeq += k;
      device.sent++;
      device.inFlight++;
      onPublish(counters.device, counters.lastSeq, performance.now());
      device.client.publish(device.topic, batchPayload(counters.device, first, k), { qos: 1 }, (error) => {
        device.inFlight--;
        if (error) counters.errors++;
        else counters.acked++;
      });
    }
  };
  const timer = setInterval(() => {
    const now = performance.now();
    for (const device of devices) if (now >= device.start) publishDue(device, now);
  }, TICK_MS);
  return {
    devices: devices.map((device) => device.counters),
    published: () => devices.reduce((sum, device) => sum + device.counters.lastSeq, 0),
    maxLagMs: () => maxLagMs,
    stop: async () => {
      running = false;
      clearInterval(timer);
      const deadline = Date.now() + 30_000;
      while (devices.some((device) => device.inFlight > 0) && Date.now() < deadline) await sleep(20);
      await Promise.all(clients.map((client) => client.endAsync(true)));
    },
  };
}
