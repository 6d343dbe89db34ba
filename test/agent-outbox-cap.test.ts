// The outbox cap, with the agent CLI as its own process (so its memory is its own), a sensor
// pouring lines into a socat pseudo-terminal and no broker at all: the oldest readings give way,
// the drops are counted in /metrics, and memory stays flat.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { agentMetric, healthPortOf } from './helpers/agent-observer.js';
import { startCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { heapAfterGc, inspectorUrl } from './helpers/inspector.js';
import { stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { startPtyPair } from './helpers/socat.js';
import { waitFor } from './helpers/wait-for.js';

const CAP = 1000;
const BLOCK = 2000; // lines per write
// 120,000 readings through a second process: how long that takes is the machine's speed (18-39 s
// with its two cores oversubscribed), which this test does not measure. A stuck agent is caught by
// the deadline of each block, not by the test's timeout.
const BLOCK_DEADLINE_MS = 30_000;
const TEST_TIMEOUT_MS = 180_000;

describeWithProgram('socat', 'socat', 'the outbox cap', () => {
  let dir: string;
  const cleanups: Array<() => Promise<void>> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-cap-'));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops the oldest readings when full, counts them in /metrics, and keeps memory flat', { timeout: TEST_TIMEOUT_MS }, async () => {
    const pair = await startPtyPair();
    cleanups.push(pair.stop);
    const nobody = await freePort(); // a broker that never answers
    const outboxDir = join(dir, 'outbox');
    const agent = await startCli(
      'agent',
      ['--device', 'furnace-cap', '--serial-path', pair.a, '--mqtt-url', `mqtt://127.0.0.1:${nobody}`, '--data-dir', outboxDir],
      {
        FURNACE_AGENT_OUTBOX_MAX_READINGS: String(CAP),
        FURNACE_AGENT_HEALTH_PORT: '0',
        FURNACE_AGENT_MQTT_RECONNECT_MAX_MS: '1000',
        // The inspector lets the test collect the agent's garbage before it reads the heap.
        NODE_OPTIONS: '--inspect=127.0.0.1:0',
      },
    );
    const health = await healthPortOf(agent);
    const inspector = await inspectorUrl(agent);
    const sensor = new SerialPort({ path: pair.b, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => sensor.open((error) => (error ? reject(error) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => sensor.close(() => resolve())));
    const block = 'T=800.0,CJ=24.0\r\n'.repeat(BLOCK);
    let written = 0;
    const pour = async (blocks: number) => {
      for (let i = 0; i < blocks; i++) {
        await new Promise<void>((resolve, reject) =>
          sensor.write(block, (error) => (error ? reject(error) : sensor.drain(() => resolve()))),
        );
        written += BLOCK;
        await waitFor(async () => (await agentMetric(health, 'furnace_agent_readings_stored_total')) === written, {
          timeoutMs: BLOCK_DEADLINE_MS,
          what: `${written} readings stored`,
        });
      }
    };

    await pour(10); // the outbox fills, and everything the agent allocates once is allocated
    const early = await heapAfterGc(inspector);
    await pour(50);
    const late = await heapAfterGc(inspector);

    expect(await agentMetric(health, 'furnace_agent_outbox_depth')).toBe(CAP);
    expect(await agentMetric(health, 'furnace_agent_readings_dropped_total', { cause: 'outbox_full' })).toBe(written - CAP);
    // The newest readings are kept, the oldest went.
    const db = new Database(join(outboxDir, 'outbox.sqlite'), { readonly: true, fileMustExist: true });
    const kept = db.prepare('SELECT min(seq) AS first, max(seq) AS last, count(*) AS n FROM outbox').get();
    db.close();
    expect(kept).toEqual({ first: written - CAP + 1, last: written, n: CAP });
    // 100,000 more readings through a full outbox: what the heap keeps of them after a full
    // collection is a leak (a reading's row object alone is over 100 bytes: 10 MB).
    expect(late - early).toBeLessThan(2 * 1024 * 1024);
  });
});
