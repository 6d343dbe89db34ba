// `npm start`: the whole stack from one command, and nothing left behind after Ctrl-C.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStack } from './helpers/cli.js';
import { freePorts } from './helpers/free-port.js';
import { stopAllProcesses } from './helpers/process.js';
import { isAlive, pidsMentioning } from './helpers/proc.js';
import { requireProgram } from './helpers/require-program.js';
import { waitFor } from './helpers/wait-for.js';

async function latestAge(httpPort: number): Promise<number | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/devices/furnace-1/latest`);
    if (!response.ok) return undefined;
    const body = (await response.json()) as { readings: Array<{ ts: number }> };
    return body.readings[0] ? Date.now() - body.readings[0].ts : undefined;
  } catch {
    return undefined;
  }
}

describe('npm start', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'furnace-start-'));
  });
  afterEach(async () => {
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  const modes = requireProgram('socat', 'socat').skip ? ['in-process'] : ['pty', 'in-process'];
  it.each(modes)('runs the stack with the %s serial link and stops every part on Ctrl-C', async (mode) => {
    const [mqttPort, httpPort, healthPort] = (await freePorts(3)) as [number, number, number];
    const stack = await startStack([
      '--mqtt-port',
      String(mqttPort),
      '--http-port',
      String(httpPort),
      '--agent-health-port',
      String(healthPort),
      '--data-dir',
      dir,
      '--serial',
      mode,
      '--interval-ms',
      '200',
    ]);
    await stack.waitForLine(/Furnace telemetry is running/, 20_000);
    expect(stack.lines.join('\n')).toContain(`http://localhost:${httpPort}/api/v1/devices`);
    // Run as `node dist/stack/start.js`, without the npm script's start time: the build is not counted.
    expect(stack.lines.join('\n')).toMatch(/first reading: stored \d+\.\d s after this process started \(build not included\)/);
    const age = await waitFor(() => latestAge(httpPort), { timeoutMs: 15_000, what: 'a reading of furnace-1 from the API' });
    expect(age).toBeLessThan(5000);
    const health = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    expect(health.status).toBe(200);

    const ours = pidsMentioning([dir, `--port ${mqttPort}`]);
    expect(ours.length).toBeGreaterThanOrEqual(mode === 'pty' ? 4 : 2); // broker, backend (+ emulator, socat, agent)
    stack.child.kill('SIGINT');
    expect((await stack.waitForExit(15_000)).code).toBe(0);
    expect(ours.filter(isAlive)).toEqual([]);
  });

  // Ctrl-C in a terminal signals the whole foreground process group: the stack and every part it
  // started. The parts leave it to the stack, which stops them in order, the agent first: its last
  // readings are still confirmed by the backend through the broker, and none waits for the next start.
  it.skipIf(requireProgram('socat', 'socat').skip)(
    'on a Ctrl-C to the whole process group, stops the agent first, with its outbox confirmed and empty',
    async () => {
      const [mqttPort, httpPort, healthPort] = (await freePorts(3)) as [number, number, number];
      const args = ['--mqtt-port', String(mqttPort), '--http-port', String(httpPort), '--agent-health-port', String(healthPort)];
      // A flush bound well above what a loaded machine needs: the order is under test, not the bound.
      const stack = await startStack([...args, '--data-dir', dir, '--serial', 'pty', '--interval-ms', '200'], {
        detached: true,
        env: { FURNACE_AGENT_SHUTDOWN_FLUSH_MS: '10000' },
      });
      await stack.waitForLine(/Furnace telemetry is running/, 20_000);
      await waitFor(() => latestAge(httpPort), { timeoutMs: 15_000, what: 'a reading of furnace-1 from the API' });
      const ours = pidsMentioning([dir, `--port ${mqttPort}`]);

      process.kill(-(stack.child.pid ?? 0), 'SIGINT');
      expect((await stack.waitForExit(30_000)).code).toBe(0);
      expect(ours.filter(isAlive)).toEqual([]);
      const output = stack.output();
      const agentStopped = output.indexOf('agent stopped');
      expect(output.slice(agentStopped).split('\n')[0]).toMatch(/drained=true left=0/);
      // The backend and the broker were asked to stop only once the agent had stopped.
      expect(agentStopped).toBeLessThan(output.indexOf('backend stopping'));
      expect(agentStopped).toBeLessThan(output.indexOf('broker stopping'));
    },
  );

  it('refuses a port that is in use, naming it', async () => {
    const [mqttPort] = await freePorts(1);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
    const httpPort = (blocker.address() as { port: number }).port;
    try {
      const stack = await startStack(['--mqtt-port', String(mqttPort), '--http-port', String(httpPort), '--data-dir', dir]);
      expect((await stack.waitForExit(15_000)).code).toBe(2);
      expect(stack.output()).toContain(`HTTP API port ${httpPort} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('refuses a bad option, naming it', async () => {
    const stack = await startStack(['--mqtt-port', 'eighty', '--data-dir', dir]);
    expect((await stack.waitForExit(15_000)).code).toBe(2);
    expect(stack.output()).toContain('--mqtt-port "eighty": expected a whole number from 1 to 65535');
  });
});
