// The agent across outages, as separate processes on real serial I/O: the emulator on a socat
// pseudo-terminal, the agent CLI, and a broker that goes away. Nothing taken may be lost, and
// nothing may be given a new seq.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type AgentObserver, type ObservedReading, agentMetric, healthPortOf, observeAgent } from './helpers/agent-observer.js';
import { startCli } from './helpers/cli.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { startRestartableMosquitto } from './helpers/mosquitto-restartable.js';
import { type RunningProcess, stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-outage';
/** Quick batches and reconnects, so the test runs in seconds; the replay rate stays bounded. */
const FAST = {
  FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50',
  FURNACE_AGENT_MQTT_RECONNECT_MIN_MS: '100',
  FURNACE_AGENT_MQTT_RECONNECT_MAX_MS: '400',
  FURNACE_AGENT_REPLAY_MAX_READINGS_PER_SECOND: '2000',
  FURNACE_AGENT_REPLAY_BATCH_MAX_READINGS: '100',
  FURNACE_AGENT_HEALTH_PORT: '0',
  // These tests watch the agent-broker hop alone (no backend to confirm): the broker's
  // acknowledgement empties the outbox. End to end with the backend: test/faults/.
  FURNACE_AGENT_CONFIRM_BY: 'broker',
};

/** Every seq from 1 to the highest, each with one content whatever the number of deliveries. */
function expectCompleteAndUnique(observer: AgentObserver): Map<number, ObservedReading> {
  const bySeq = observer.uniqueBySeq();
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  for (const reading of observer.readings) {
    const first = bySeq.get(reading.seq);
    // A re-sent reading is the same reading: same boot, time and value (only `replay` may differ).
    expect({ ...reading, at: 0, replay: false }).toEqual({ ...first, at: 0, replay: false });
  }
  expect(observer.invalid).toEqual([]);
  return bySeq;
}

/** The seqs of `readings` in order of first arrival: a QoS 1 redelivery repeats a seq, and is not a reordering. */
function firstArrivals(readings: ObservedReading[]): number[] {
  const seen = new Set<number>();
  return readings.flatMap((reading) => (seen.has(reading.seq) ? [] : (seen.add(reading.seq), [reading.seq])));
}

function ascending(seqs: number[]): void {
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
}

describeWithProgram('socat', 'socat', 'the agent across outages', () => {
  let dir: string;
  const cleanups: Array<() => Promise<void>> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-outage-'));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startEmulator(): Promise<string> {
    const link = join(dir, 'tty');
    await startCli('emulator', ['--link', link, '--interval-ms', '20', '--speed', '60']);
    return link;
  }

  it('delivers every reading taken while the broker was down, in order, each seq once, the backlog marked replay', async () => {
    const broker = await startRestartableMosquitto();
    cleanups.push(broker.remove);
    // A persistent session: what the agent publishes while this observer reconnects waits for it.
    const observer = await observeAgent(broker.url, DEVICE, { clientId: 'outage-observer', clean: false });
    cleanups.push(observer.stop);
    const link = await startEmulator();
    const agent = await startCli(
      'agent',
      ['--device', DEVICE, '--serial-path', link, '--mqtt-url', broker.url, '--data-dir', join(dir, 'agent')],
      FAST,
    );
    const health = await healthPortOf(agent);
    await waitFor(() => observer.readings.length >= 50, { timeoutMs: 20_000, what: '50 readings before the outage' });

    await broker.stop();
    const down = Date.now();
    await waitFor(async () => (await agentMetric(health, 'furnace_agent_outbox_depth')) >= 150, {
      timeoutMs: 20_000,
      what: '150 readings kept in the outbox while the broker is down',
    });
    await broker.start();
    const up = Date.now();
    const lastSeq = await waitFor(
      async () => {
        const depth = await agentMetric(health, 'furnace_agent_outbox_depth');
        const stored = await agentMetric(health, 'furnace_agent_readings_stored_total');
        return depth === 0 && observer.uniqueBySeq().size >= stored ? stored : undefined;
      },
      { timeoutMs: 30_000, what: 'the backlog delivered and the outbox empty' },
    );

    const bySeq = expectCompleteAndUnique(observer);
    expect(bySeq.size).toBeGreaterThanOrEqual(lastSeq);
    const taken = [...bySeq.values()].filter((reading) => reading.ts > down + 100 && reading.ts < up - 100);
    expect(taken.length).toBeGreaterThan(100);
    expect(taken.every((reading) => reading.replay)).toBe(true);
    // Each stream in seq order: the backlog oldest first, and the live readings beside it.
    ascending(firstArrivals(observer.readings.filter((reading) => reading.replay)));
    ascending(firstArrivals(observer.readings.filter((reading) => !reading.replay)));
    expect(new Set(observer.readings.map((reading) => reading.boot)).size).toBe(1);
    expect(await agentMetric(health, 'furnace_agent_mqtt_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(await agentMetric(health, 'furnace_agent_readings_replayed_total')).toBeGreaterThanOrEqual(taken.length);
  });

  it('continues its seq after a SIGKILL mid-stream, and sends every reading it had committed', async () => {
    const broker = await startMosquitto();
    cleanups.push(broker.stop);
    const observer = await observeAgent(broker.url, DEVICE);
    cleanups.push(observer.stop);
    const link = await startEmulator();
    const outboxDir = join(dir, 'agent');
    const args = ['--device', DEVICE, '--serial-path', link, '--mqtt-url', broker.url, '--data-dir', outboxDir];
    // The first run keeps what the broker took (confirm.by backend, and no backend here to confirm):
    // at the kill, every reading it committed is still in the outbox, whatever the timing of the
    // last PUBACK. The second run (confirm.by broker) must send them all again.
    let agent: RunningProcess = await startCli('agent', args, { ...FAST, FURNACE_AGENT_CONFIRM_BY: 'backend' });
    await waitFor(() => observer.readings.length >= 60, { timeoutMs: 20_000, what: '60 readings before the kill' });

    agent.child.kill('SIGKILL');
    await agent.waitForExit(10_000);
    const firstBoot = observer.readings[0]?.boot;
    // What the dead agent left: committed, not confirmed.
    const db = new Database(join(outboxDir, 'outbox.sqlite'), { readonly: true, fileMustExist: true });
    const left = (db.prepare('SELECT seq FROM outbox ORDER BY seq').all() as Array<{ seq: number }>).map((row) => row.seq);
    const lastTaken = (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number }).seq;
    db.close();
    expect(left.length).toBeGreaterThan(0);

    agent = await startCli('agent', args, FAST);
    await waitFor(
      () => {
        const bySeq = observer.uniqueBySeq();
        return left.every((seq) => bySeq.has(seq)) && [...bySeq.values()].filter((r) => r.boot !== firstBoot).length >= 30;
      },
      { timeoutMs: 20_000, what: 'the left readings and 30 new ones' },
    );
    const bySeq = expectCompleteAndUnique(observer);
    const secondRun = [...bySeq.values()].filter((reading) => reading.boot !== firstBoot);
    expect(Math.min(...secondRun.map((reading) => reading.seq))).toBe(lastTaken + 1);
    // The left readings went out under the boot they were taken in, as a replay.
    for (const seq of left) expect(bySeq.get(seq)).toMatchObject({ boot: firstBoot });
    expect(observer.readings.filter((reading) => left.includes(reading.seq) && reading.replay).length).toBeGreaterThanOrEqual(left.length);
  });
});
