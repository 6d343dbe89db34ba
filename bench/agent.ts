// The agent's cost and its replay speed, each beside a reference measured in the same run:
// - CPU and memory at 10 readings/s (an emulated line sensor on a socat pseudo-terminal), beside
//   a bare Node.js process that only reads the same kind of line from the same kind of port;
// - how fast a 100,000-reading backlog drains after an outage, beside a plain MQTT.js client
//   publishing the same readings in the same batches, one QoS 1 batch in flight, to the same broker.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { DurableOutbox } from '../agent/outbox/outbox.js';
import { type Reading, type ReadingBatch, encodePayload, topics } from '../contract/index.js';
import { DIST_DIR } from '../test/helpers/cli.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { type RunningProcess, startProcess, stopAllProcesses } from '../test/helpers/process.js';
import { startPtyPair } from '../test/helpers/socat.js';
import { waitFor } from '../test/helpers/wait-for.js';

const RATE_SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 20);
const BACKLOG = Number(process.env.BENCH_AGENT_BACKLOG ?? 100_000);
const BATCH = 500; // replay.batchMaxReadings' default
const DEVICE = 'bench-agent';
// Linux accounts CPU time in clock ticks of 1/100 s (CLK_TCK) on every platform Node supports.
const TICKS_PER_SECOND = 100;

interface ProcessCost {
  cpuPercent: number;
  rssMb: number;
}

/** CPU time (user + system) of a process, in seconds, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** The CPU share (of one core) and the peak resident memory of each process over `seconds`. */
async function measureCost(pids: number[], seconds: number): Promise<ProcessCost[]> {
  const cpu0 = pids.map(cpuSeconds);
  const peak = pids.map(rssMb);
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await new Promise((done) => setTimeout(done, 1000));
    pids.forEach((pid, i) => (peak[i] = Math.max(peak[i] ?? 0, rssMb(pid))));
  }
  const elapsed = (performance.now() - started) / 1000;
  return pids.map((pid, i) => ({ cpuPercent: ((cpuSeconds(pid) - (cpu0[i] ?? 0)) / elapsed) * 100, rssMb: peak[i] ?? 0 }));
}

/** A Node.js process that opens `path` and counts its lines: the least any serial reader in Node costs. */
function bareReader(path: string): Promise<RunningProcess> {
  const script = `
    import { SerialPort } from 'serialport';
    const port = new SerialPort({ path: ${JSON.stringify(path)}, baudRate: 9600 });
    let pending = '', lines = 0;
    port.on('data', (chunk) => { const parts = (pending + chunk.toString('latin1')).split('\\n'); pending = parts.pop(); lines += parts.length; });
    setInterval(() => {}, 1000);
    console.log('reader ready');`;
  // Run from the checkout, so that 'serialport' resolves to the same package the agent uses.
  return startProcess(process.execPath, ['--input-type=module', '-e', script], { cwd: resolve(DIST_DIR, '..'), readyLine: /reader ready/ });
}

async function costAtTenPerSecond(dir: string, brokerUrl: string): Promise<void> {
  const emulator = (link: string) =>
    startProcess(process.execPath, [join(DIST_DIR, 'hardware', 'cli.js'), '--link', link, '--interval-ms', '100', '--speed', '60'], {
      readyLine: /emulator ready/,
    });
  const emulators = [await emulator(join(dir, 'tty-agent')), await emulator(join(dir, 'tty-bare'))];
  const agent = await startProcess(
    process.execPath,
    [
      join(DIST_DIR, 'agent', 'cli.js'),
      '--device',
      DEVICE,
      '--serial-path',
      join(dir, 'tty-agent'),
      '--mqtt-url',
      brokerUrl,
      '--data-dir',
      join(dir, 'outbox-rate'),
    ],
    { readyLine: /agent started/, env: { ...process.env, FURNACE_AGENT_HEALTH_PORT: '0' } },
  );
  const reader = await bareReader(join(dir, 'tty-bare'));
  await new Promise((done) => setTimeout(done, 3000)); // past start-up: JIT, first connections
  const [ours, bare] = await measureCost([agent.pid, reader.pid], RATE_SECONDS);
  if (!ours || !bare) throw new Error('no measurement');
  const row = (name: string, cost: ProcessCost) =>
    `  ${name.padEnd(34)} ${cost.cpuPercent.toFixed(2).padStart(6)} % CPU  ${cost.rssMb.toFixed(1).padStart(6)} MB RSS\n`;
  process.stdout.write(
    `agent at 10 readings/s (line sensor on a socat pty, QoS 1 batches every second), over ${RATE_SECONDS} s:\n` +
      row('furnace-agent', ours) +
      row('bare serial reader (reference)', bare) +
      `  ratio: ${(ours.cpuPercent / Math.max(bare.cpuPercent, 0.01)).toFixed(1)}× the CPU, ${(ours.rssMb / bare.rssMb).toFixed(1)}× the memory of reading the port alone\n`,
  );
  for (const proc of [agent, reader, ...emulators]) await proc.stop();
}

/** A backlog reading: what the outbox takes, and with a seq what the reference publishes (marked replay, as the agent's replay lane sends it). */
function backlogReading(i: number): Omit<Reading, 'seq'> {
  return {
    ts: 1_800_000_000_000 + i * 1000,
    sensor: 'tc1',
    value: 800 + (i % 100) / 10,
    unit: 'C',
    quality: 'good',
    clock: 'synced',
    replay: true,
  };
}

/**
 * Resolves once `count` readings of DEVICE have arrived at a subscriber, with the seconds from
 * `start()` (process start-up included) and from the first batch to the last (the steady rate).
 */
async function timeUntilReceived(brokerUrl: string, count: number, start: () => Promise<void>): Promise<{ total: number; steady: number }> {
  const subscriber = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4 });
  let received = 0;
  let first = 0;
  let last = 0;
  subscriber.on('message', (_topic, payload) => {
    received += (JSON.parse(payload.toString()) as ReadingBatch).readings.length;
    last = performance.now();
    first ||= last;
  });
  await subscriber.subscribeAsync(topics.readings(DEVICE), { qos: 1 });
  const started = performance.now();
  await start();
  await waitFor(() => received >= count, { timeoutMs: 600_000, intervalMs: 20, what: `${count} readings at the subscriber` });
  await subscriber.endAsync();
  // The first batch's own readings arrived at `first`: the steady rate counts the others.
  return { total: (last - started) / 1000, steady: ((last - first) / 1000) * (count / Math.max(1, count - BATCH)) };
}

async function replayRate(dir: string, brokerUrl: string): Promise<void> {
  const outboxDir = join(dir, 'outbox-backlog');
  const outbox = new DurableOutbox(outboxDir);
  for (let i = 0; i < BACKLOG; i += 10_000) {
    outbox.appendMany(
      'bench-backlog',
      Array.from({ length: Math.min(10_000, BACKLOG - i) }, (_, j) => backlogReading(i + j)),
    );
  }
  outbox.close();
  const pair = await startPtyPair(); // a sensor port that stays silent
  let agent: RunningProcess | undefined;
  const agentSeconds = await timeUntilReceived(brokerUrl, BACKLOG, async () => {
    agent = await startProcess(
      process.execPath,
      [join(DIST_DIR, 'agent', 'cli.js'), '--device', DEVICE, '--serial-path', pair.a, '--mqtt-url', brokerUrl, '--data-dir', outboxDir],
      {
        readyLine: /agent started/,
        env: { ...process.env, FURNACE_AGENT_HEALTH_PORT: '0', FURNACE_AGENT_REPLAY_MAX_READINGS_PER_SECOND: '0' },
      },
    );
  });
  await agent?.stop();
  await pair.stop();

  // The reference: the same readings in the same batches, one QoS 1 batch in flight, no outbox.
  const payloads: Buffer[] = [];
  for (let i = 0; i < BACKLOG; i += BATCH) {
    const readings: Reading[] = Array.from({ length: Math.min(BATCH, BACKLOG - i) }, (_, j) => ({
      seq: i + j + 1,
      ...backlogReading(i + j),
    }));
    payloads.push(encodePayload<ReadingBatch>({ v: 1, device: DEVICE, boot: 'bench-backlog', readings }));
  }
  const publisher = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4 });
  const rawSeconds = await timeUntilReceived(brokerUrl, BACKLOG, async () => {
    for (const payload of payloads) await publisher.publishAsync(topics.readings(DEVICE), payload, { qos: 1 });
  });
  await publisher.endAsync();
  const rate = (seconds: number) =>
    Math.round(BACKLOG / seconds)
      .toLocaleString('en')
      .padStart(9);
  const row = (name: string, time: { total: number; steady: number }) =>
    `  ${name.padEnd(36)} ${rate(time.steady)} readings/s steady  (${time.total.toFixed(2)} s from the start to the last)\n`;
  process.stdout.write(
    `replay of a ${BACKLOG.toLocaleString('en')}-reading backlog (batches of ${BATCH}, one QoS 1 batch in flight, rate limit off), to Mosquitto:\n` +
      row('furnace-agent (process start → MQTT)', agentSeconds) +
      row('plain MQTT.js publisher (reference)', rawSeconds) +
      `  ratio: ${(rawSeconds.steady / agentSeconds.steady).toFixed(2)} of the reference's rate; ` +
      'by default (replay.maxReadingsPerSecond) the agent holds itself to 1,000/s\n',
  );
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-agent-'));
  const broker = await startMosquitto();
  try {
    await costAtTenPerSecond(dir, broker.url);
    await replayRate(dir, broker.url);
  } finally {
    await stopAllProcesses();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
