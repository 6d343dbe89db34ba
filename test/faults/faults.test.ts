// The fault suite (issue 13): the whole chain as separate processes, one fault per row, driven by
// signals and restarts on the same ports and folders, and judged only from outside (the store's
// SQLite file, the agent's outbox file, /healthz, /readyz, /metrics). Each row prints a line of
// the table (produced, stored, doubled, lost, time to recover) and asserts 0 lost and 0 doubled.
//
// Rows 1, 2, 3 and 10 lost readings before the end-to-end confirmation (the agent forgets a reading
// only when the backend's `stored` message covers it); row 9 crashed the agent on a full disk; row
// 10 also needed a Redis broker that answers a SUBSCRIBE of several filters.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { stopAllProcesses } from '../helpers/process.js';
import { describeWithProgram } from '../helpers/require-program.js';
import { fillDisk } from '../helpers/tmpfs.js';
import { type StackUsers, stackUsers, writeBrokerUsers } from './brokers.js';
import { faultRows, printFaultTable, program, tmpfs } from './fault-row.js';
import { faultLasting, faultLasts, seenWithin } from './fault-time.js';
import { agentMetrics, agentHealthStatus, apiStatus, backendReady, sensorIs, waitUntilBackendReady } from './probes.js';
import { DEVICE, FaultStack, type FaultStackOptions } from './stack.js';
import { tallyRecovery } from './tally.js';

const mosquitto = [program('mosquitto', 'mosquitto'), program('mosquitto_passwd', 'mosquitto')];
const redis = [program('redis-server', 'redis-server')];
/** How long the store stays locked in row 8 (the issue asks 20 s). */
const LOCK_MS = 20_000;

describeWithProgram('socat', 'socat', 'faults, from outside', () => {
  let suiteDir: string;
  let users: StackUsers & { file: string };
  let stack: FaultStack | undefined;

  beforeAll(async () => {
    suiteDir = await mkdtemp(join(tmpdir(), 'test-faults-suite-'));
    users = { ...stackUsers(DEVICE), file: join(suiteDir, 'broker-users') };
    await writeBrokerUsers(users.file, users);
  });
  afterEach(async () => {
    const current = stack;
    stack = undefined;
    await current?.dispose();
    await stopAllProcesses();
  });
  afterAll(async () => {
    printFaultTable();
    await rm(suiteDir, { recursive: true, force: true });
  });

  const faultRow = faultRows(() => stack);

  /** The stack of this row, flowing; afterEach tears it down whatever happens. */
  async function up(options: FaultStackOptions = {}): Promise<FaultStack> {
    const started = (stack = new FaultStack(users, options));
    await started.start();
    return started;
  }

  faultRow('1. broker SIGKILL (memory) while the backend is down', [], async () => {
    const s = await up();
    await s.backend.kill();
    await faultLasts(3000);
    await s.broker.kill();
    await s.broker.start();
    await s.backend.start();
    return tallyRecovery(s);
  });

  faultRow('2. broker SIGKILL, restart 0.3 s later, 4 rounds', [], async () => {
    const s = await up();
    for (let round = 0; round < 4; round++) {
      await s.flowing(5); // both ends back on the broker and carrying readings
      await s.broker.kill();
      await faultLasts(300);
      await s.broker.start();
    }
    return tallyRecovery(s);
  });

  faultRow('3. Mosquitto SIGKILL+restart x4, backend paused', mosquitto, async () => {
    const s = await up({ broker: 'mosquitto' });
    s.backend.pause();
    for (let round = 0; round < 4; round++) {
      await agentMetrics(s).grows('furnace_agent_readings_sent_total', 5); // Mosquitto took 5 more readings
      await s.broker.kill();
      await faultLasts(300);
      await s.broker.start();
    }
    await agentMetrics(s).grows('furnace_agent_readings_sent_total', 5);
    s.backend.resume();
    return tallyRecovery(s);
  });

  faultRow('4. backend SIGKILL and restart', [], async () => {
    const s = await up();
    await s.backend.kill();
    await faultLasts(2000);
    await s.backend.start();
    return tallyRecovery(s);
  });

  faultRow('5. agent SIGKILL and restart', [], async () => {
    const s = await up();
    await s.agent.kill();
    await s.agent.start();
    return tallyRecovery(s);
  });

  faultRow('6. agent SIGKILL while the broker is down', [], async () => {
    const s = await up();
    await s.broker.kill();
    await agentMetrics(s).reaches('furnace_agent_outbox_depth', 10); // readings wait in the outbox
    await s.agent.kill();
    await s.broker.start();
    await waitUntilBackendReady(s); // the backend back on the broker first
    await s.agent.start();
    return tallyRecovery(s);
  });

  faultRow('7a. serial unplug (socat killed, plugged back)', [], async () => {
    const s = await up();
    const fault = faultLasting(3000);
    await s.cable.kill();
    await rm(s.serialLink, { force: true }); // as udev removes /dev/ttyUSB0 when the adapter goes
    expect.soft(await seenWithin(fault.remaining(), () => sensorIs(s, 'disconnected')), 'agent reports tc1 disconnected').toBe(true);
    await fault.over();
    await s.cable.start();
    return tallyRecovery(s);
  });

  faultRow('7b. serial stall (emulator SIGSTOP 3 s)', [], async () => {
    const s = await up();
    const fault = faultLasting(3000);
    s.emulator.pause();
    expect.soft(await seenWithin(fault.remaining(), () => sensorIs(s, 'stalled')), 'agent reports tc1 stalled').toBe(true);
    await fault.over();
    s.emulator.resume();
    return tallyRecovery(s);
  });

  faultRow(`8. store locked ${LOCK_MS / 1000} s (BEGIN EXCLUSIVE)`, [], async () => {
    const s = await up();
    const lock = new Database(s.readingsFile, { timeout: 10_000 });
    s.onDispose(() => lock.open && lock.close()); // closing rolls the transaction back
    const fault = faultLasting(LOCK_MS);
    lock.exec('BEGIN EXCLUSIVE');
    expect
      .soft(await seenWithin(fault.remaining(), async () => !(await backendReady(s))), '/readyz says the store is not writable')
      .toBe(true);
    // The query side does not wait for the write side (DESIGN: a failure on one path does not spread).
    expect.soft(await apiStatus(s, `/api/v1/devices/${DEVICE}/latest`), 'GET /latest while the store is locked').toBe(200);
    await fault.over();
    lock.exec('ROLLBACK');
    lock.close();
    return tallyRecovery(s);
  });

  faultRow('9. outbox disk full (tmpfs), then space back', [tmpfs], async () => {
    // The agent's default batch interval (1 s): when the disk fills, committed readings are waiting
    // for their PUBACK, and the outbox must still be able to account for them.
    const s = await up({ agentDiskBytes: 16 * 1024 * 1024, agentEnv: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '1000' } });
    const metrics = agentMetrics(s);
    await metrics.reaches('furnace_agent_outbox_depth', 1);
    const filler = fillDisk(s.agentDir);
    s.onDispose(filler.free);
    const fault = faultLasting(4000);
    let refused: number | undefined;
    const unhealthy = await seenWithin(fault.remaining(), async () => {
      refused = (await metrics.read('furnace_agent_readings_dropped_total', { cause: 'write_failed' })) ?? refused;
      return (await agentHealthStatus(s)) === 503;
    });
    await fault.over();
    refused = (await metrics.read('furnace_agent_readings_dropped_total', { cause: 'write_failed' })) ?? refused;
    const survived = s.agent.running;
    filler.free();
    const faultEnd = Date.now();
    const notes: string[] = [];
    if (!survived) {
      notes.push(
        `agent died on the full disk (${s.agent.crashCause()}); restarted by the test, as systemd would; refused at source counted until then`,
      );
      await s.agent.start();
    }
    const tally = await tallyRecovery(s, faultEnd);
    if (survived) {
      expect
        .soft(await seenWithin(10_000, async () => (await agentHealthStatus(s)) === 200), '/healthz 200 again once there is space')
        .toBe(true);
      refused = (await metrics.read('furnace_agent_readings_dropped_total', { cause: 'write_failed' })) ?? refused;
    }
    expect.soft(survived, 'the agent stays up while the disk is full').toBe(true);
    expect.soft(unhealthy, '/healthz says 503 while the disk is full').toBe(true);
    return { ...tally, refusedAtSource: refused, notes: [...notes, ...tally.notes] };
  });

  faultRow('10. Redis persistence, backend session lost', redis, async () => {
    const s = await up({ broker: 'redis' });
    await s.backend.kill();
    await faultLasts(2000);
    await s.redisCommand(['FLUSHALL']); // the backend's session and what was queued for it are gone
    await s.broker.kill();
    await s.broker.start();
    await s.backend.start();
    return tallyRecovery(s);
  });
});
