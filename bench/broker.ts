// Broker relay: QoS 0 and QoS 1 readings batches from one device publisher to one backend
// subscriber, through furnace-broker (aedes, its own process, authentication and ACL on) and
// through Mosquitto (password file and ACL on) in the same run, with the same client load.
// For each: messages per second and publish-to-delivery latency (median, 99th percentile).
// Env: BENCH_MESSAGES (5000 per QoS), BENCH_BROKER_NODE_OPTIONS (node flags for our broker),
// BENCH_BROKER_CLI (another build's dist/broker/cli.js, to compare versions in the same conditions).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { hashPassword, writeCredentialsFile } from '../broker/index.js';
import { CONTRACT_VERSION, type ReadingBatch, encodePayload, topics } from '../contract/index.js';
import { DIST_DIR } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/free-port.js';
import { startMosquittoWithAuth } from '../test/helpers/mosquitto-auth.js';
import { startProcess } from '../test/helpers/process.js';

export interface RelayResult {
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The broker process's CPU time (user + system) per message relayed: steadier than rates on a busy machine. */
  cpuUsPerMessage: number;
}

/** CPU time a process has used so far, in µs (Linux /proc; clock ticks of 10 ms). */
async function cpuTimeUs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may hold spaces: utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const DEVICE = { username: 'bench-1', password: 'bench-device-pw' };
const BACKEND = { username: 'backend', password: 'bench-backend-pw' };
const WINDOW = 100; // messages in flight at once, as a busy agent fleet keeps them

/** A readings batch (about 1 KB of JSON) behind a 4-byte sequence number the subscriber reads back. */
function samplePayload(seq: number): Buffer {
  const batch: ReadingBatch = {
    v: CONTRACT_VERSION,
    device: DEVICE.username,
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
  const header = Buffer.alloc(4);
  header.writeUInt32BE(seq);
  return Buffer.concat([header, encodePayload(batch)]);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const connect = (url: string, user: { username: string; password: string }, clientId: string): Promise<MqttClient> =>
  mqtt.connectAsync(url, { protocolVersion: 4, clientId, username: user.username, password: user.password, reconnectPeriod: 0 });

/**
 * Relays `messages` at `qos`, keeping WINDOW in flight: QoS 1 counts a message in flight until
 * its PUBACK, QoS 0 (which has none) until the subscriber has it. Same load for both brokers.
 */
async function measure(url: string, pid: number, qos: 0 | 1, messages: number): Promise<RelayResult> {
  const subscriber = await connect(url, BACKEND, `bench-sub-${qos}`);
  const publisher = await connect(url, DEVICE, DEVICE.username);
  const topic = topics.readings(DEVICE.username);
  await subscriber.subscribeAsync(topic, { qos });
  const payloads = Array.from({ length: messages }, (_, i) => samplePayload(i));
  const sentAt = new Float64Array(messages);
  const latencies: number[] = [];
  let sent = 0;
  let acked = 0;
  const started = performance.now();
  const cpuStarted = await cpuTimeUs(pid);
  let watchdog: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    // A lost message would stall the window for ever: give up, saying where it stood.
    let progress = -1;
    watchdog = setInterval(() => {
      if (latencies.length + acked === progress)
        reject(new Error(`QoS ${qos} relay stalled at ${url}: sent ${sent}, acknowledged ${acked}, received ${latencies.length}`));
      progress = latencies.length + acked;
    }, 5000);
    const inFlight = () => (qos === 1 ? sent - acked : sent - latencies.length);
    const pump = () => {
      while (sent < messages && inFlight() < WINDOW) {
        const seq = sent++;
        sentAt[seq] = performance.now();
        publisher.publish(topic, payloads[seq] as Buffer, { qos }, (error) => {
          if (error) return reject(error);
          acked += 1;
          if (qos === 1) pump();
        });
      }
    };
    subscriber.on('message', (_topic, payload) => {
      latencies.push(performance.now() - (sentAt[payload.readUInt32BE(0)] ?? 0));
      if (latencies.length === messages) resolve();
      else if (qos === 0) pump();
    });
    pump();
  }).finally(() => clearInterval(watchdog));
  const seconds = (performance.now() - started) / 1000;
  const cpuUs = (await cpuTimeUs(pid)) - cpuStarted;
  await publisher.endAsync();
  await subscriber.endAsync();
  latencies.sort((a, b) => a - b);
  return {
    messagesPerSecond: messages / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    cpuUsPerMessage: cpuUs / messages,
  };
}

async function startOurBroker(dir: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const passwordFile = join(dir, 'users');
  await writeCredentialsFile(passwordFile, [
    { username: DEVICE.username, role: 'device', hash: await hashPassword(DEVICE.password) },
    { username: BACKEND.username, role: 'backend', hash: await hashPassword(BACKEND.password) },
  ]);
  const port = await freePort();
  // BENCH_BROKER_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": profile the broker process.
  const nodeOptions = (process.env.BENCH_BROKER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  // BENCH_BROKER_CLI: another build's broker/cli.js (to compare two versions on the same machine).
  const cli = process.env.BENCH_BROKER_CLI ?? join(DIST_DIR, 'broker', 'cli.js');
  const args = [...nodeOptions, cli, '--host', '127.0.0.1', '--port', String(port), '--password-file', passwordFile];
  // The per-client publish rate limit (200/s by default) would measure itself: off for the bench.
  const proc = await startProcess(process.execPath, args, {
    readyLine: /MQTT listener ready/,
    env: { ...process.env, FURNACE_BROKER_LIMITS_PUBLISH_RATE_PER_SECOND: '0' },
  });
  return { url: `mqtt://127.0.0.1:${port}`, pid: proc.pid, stop: () => proc.stop() };
}

const format = (value: number, digits = 0) => value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Prints the broker's relay rate and latency beside Mosquitto's, measured in the same run. */
export async function run(): Promise<void> {
  const messages = Number(process.env.BENCH_MESSAGES ?? 5000);
  process.stdout.write(
    `broker relay: ${messages} batches of 10 readings (~1 KB) per QoS, 1 device publisher -> 1 backend subscriber, ${WINDOW} in flight\n` +
      '  both brokers with password authentication and topic ACLs; furnace-broker with its publish rate limit off\n',
  );
  const dir = await mkdtemp(join(tmpdir(), 'bench-broker-'));
  const ours = await startOurBroker(dir);
  const mosquitto = await startMosquittoWithAuth([
    { ...DEVICE, acl: [`topic write telemetry/v1/${DEVICE.username}/#`] },
    { ...BACKEND, acl: ['topic read telemetry/v1/#'] },
  ]);
  try {
    const brokers = [
      ['furnace-broker (aedes)', ours.url, ours.pid],
      ['mosquitto (reference)', mosquitto.url, mosquitto.pid],
    ] as const;
    // Warm both up so JIT and socket buffers do not count against the first one measured.
    for (const [, url, pid] of brokers) for (const qos of [0, 1] as const) await measure(url, pid, qos, 500);
    const results: Array<[string, RelayResult, RelayResult]> = [];
    for (const [name, url, pid] of brokers)
      results.push([name, await measure(url, pid, 0, messages), await measure(url, pid, 1, messages)]);
    const line = (name: string, q0: string, q1: string) => `  ${name.padEnd(26)}${q0}  |${q1}\n`;
    const row = (a: string, b: string, c: string, d: string) => `${a.padStart(10)} ${b.padEnd(5)} ${c.padStart(7)} ${d.padStart(7)}`;
    const cells = (r: RelayResult) => row(format(r.messagesPerSecond), 'msg/s', format(r.p50Ms, 2), format(r.p99Ms, 2));
    process.stdout.write(line('', row('QoS 0', '', 'p50 ms', 'p99 ms'), row('QoS 1', '', 'p50 ms', 'p99 ms')));
    for (const [name, q0, q1] of results) process.stdout.write(line(name, cells(q0), cells(q1)));
    const [, ours0, ours1] = results[0] ?? [];
    const [, ref0, ref1] = results[1] ?? [];
    if (!ours0 || !ours1 || !ref0 || !ref1) throw new Error('benchmark produced no figures');
    const times = (value: number) => `${value.toFixed(2)}x`;
    const ratio = (a: RelayResult, b: RelayResult) =>
      row(times(a.messagesPerSecond / b.messagesPerSecond), '', times(a.p50Ms / b.p50Ms), times(a.p99Ms / b.p99Ms));
    process.stdout.write(line('ratio (ours / reference)', ratio(ours0, ref0), ratio(ours1, ref1)));
    const cpu = (r: RelayResult) => `${format(r.cpuUsPerMessage, 1)} µs`.padStart(10);
    process.stdout.write(
      `  broker CPU per message     QoS 0: ours ${cpu(ours0)}, mosquitto ${cpu(ref0)} (${times(ours0.cpuUsPerMessage / ref0.cpuUsPerMessage)})` +
        `  |  QoS 1: ours ${cpu(ours1)}, mosquitto ${cpu(ref1)} (${times(ours1.cpuUsPerMessage / ref1.cpuUsPerMessage)})\n`,
    );
  } finally {
    await ours.stop();
    await mosquitto.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
