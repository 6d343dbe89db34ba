// The whole chain as separate processes, as a plant runs it: emulator on a socat
// pseudo-terminal → agent → broker → backend → SQLite → HTTP API.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startCli } from './helpers/cli.js';
import { freePorts } from './helpers/free-port.js';
import type { RunningProcess } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { stopAllProcesses } from './helpers/process.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-e2e';

interface Row {
  boot: string;
  seq: number;
  ts: number;
  value: number | null;
  quality: string;
}

function storedRows(dbFile: string): Row[] {
  // A second, read-only connection: WAL lets it read while the backend writes.
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT boot, seq, ts, value, quality FROM readings WHERE device = ? ORDER BY seq').all(DEVICE) as Row[];
  } finally {
    db.close();
  }
}

function expectContiguous(rows: Row[]): void {
  const seqs = rows.map((row) => row.seq);
  expect(seqs[0]).toBe(1);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
}

describeWithProgram('socat', 'socat', 'end to end through every part', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'furnace-e2e-'));
  });
  afterEach(async () => {
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every reading once, in order, across an agent restart', async () => {
    const [mqttPort, httpPort] = (await freePorts(2)) as [number, number];
    const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    const api = `http://127.0.0.1:${httpPort}/api/v1`;
    // Authentication is tested in the broker's own tests and by npm start; here the chain is what matters.
    await startCli('broker', ['--port', String(mqttPort), '--host', '127.0.0.1', '--allow-anonymous']);
    const backendArgs = ['--port', String(httpPort), '--mqtt-url', mqttUrl, '--data-dir', join(dir, 'backend'), '--open-access'];
    await startCli('backend', backendArgs);
    const link = join(dir, 'serial', DEVICE);
    await startCli('emulator', ['--link', link, '--interval-ms', '20', '--speed', '60']);
    const agentArgs = ['--device', DEVICE, '--serial-path', link, '--mqtt-url', mqttUrl, '--data-dir', join(dir, 'agent')];
    const fastBatches = { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50', FURNACE_AGENT_HEALTH_PORT: '0' };
    let agent: RunningProcess = await startCli('agent', agentArgs, fastBatches);

    const dbFile = join(dir, 'backend', 'readings.sqlite');
    const firstRun = await waitFor(() => (storedRows(dbFile).length >= 50 ? storedRows(dbFile) : undefined), {
      timeoutMs: 20_000,
      what: '50 readings stored by the backend',
    });
    expectContiguous(firstRun);
    expect(firstRun.every((row) => row.quality === 'good' && typeof row.value === 'number')).toBe(true);

    const devices = (await (await fetch(`${api}/devices`)).json()) as { devices: Array<{ device: string }> };
    expect(devices.devices.map((d) => d.device)).toEqual([DEVICE]);
    const latest = (await (await fetch(`${api}/devices/${DEVICE}/latest`)).json()) as { readings: Array<{ ts: number }> };
    expect(Date.now() - (latest.readings[0]?.ts ?? 0)).toBeLessThan(5000);

    // A restarted agent keeps counting from its outbox: a new boot, the same seq series.
    await agent.stop();
    const before = storedRows(dbFile);
    agent = await startCli('agent', agentArgs, fastBatches);
    const afterRestart = await waitFor(
      () => {
        const rows = storedRows(dbFile);
        return new Set(rows.map((row) => row.boot)).size === 2 && rows.length >= before.length + 30 ? rows : undefined;
      },
      { timeoutMs: 20_000, what: '30 more readings from the restarted agent' },
    );
    expectContiguous(afterRestart);
    expect(afterRestart.slice(0, before.length)).toEqual(before);
  });
});
