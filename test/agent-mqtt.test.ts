// The agent's MQTT side against Mosquitto: TLS with a client certificate and a password, the
// retained birth and will, and a graceful SIGTERM with and without a broker.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { loadAgentConfig, startAgent } from '../agent/index.js';
import { type AgentObserver, agentMetric, capturedLog, healthPortOf, observeAgent } from './helpers/agent-observer.js';
import { startCli } from './helpers/cli.js';
import { findProgram } from './helpers/find-program.js';
import { freePort } from './helpers/free-port.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { startRestartableMosquitto } from './helpers/mosquitto-restartable.js';
import { stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { startPtyPair } from './helpers/socat.js';
import { makeTlsCerts } from './helpers/tls-certs.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-mqtt';
const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describeWithProgram('mosquitto', 'mosquitto', 'the agent and its broker', () => {
  let dir: string;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-mqtt-'));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An emulated line sensor on a socat pair; returns the agent's device path. */
  async function emulator(): Promise<string> {
    const link = join(dir, 'tty');
    await startCli('emulator', ['--link', link, '--interval-ms', '50', '--speed', '60']);
    return link;
  }

  async function observe(url: string, options = {}): Promise<AgentObserver> {
    const observer = await observeAgent(url, DEVICE, options);
    cleanups.push(observer.stop);
    return observer;
  }

  it('publishes over TLS with a client certificate and a password, and says why a wrong password is refused', async () => {
    const certs = await makeTlsCerts([DEVICE, 'observer']);
    cleanups.push(certs.remove);
    const passwd = join(certs.dir, 'passwd');
    const mosquittoPasswd = findProgram('mosquitto_passwd') ?? 'mosquitto_passwd';
    execFileSync(mosquittoPasswd, ['-c', '-b', passwd, DEVICE, 'device-secret']);
    execFileSync(mosquittoPasswd, ['-b', passwd, 'observer', 'observer-secret']);
    const broker = await startRestartableMosquitto({
      tls: true,
      listener: (port) => [
        `listener ${port} 127.0.0.1`,
        `cafile ${certs.ca}`,
        `certfile ${certs.server.cert}`,
        `keyfile ${certs.server.key}`,
        'require_certificate true',
        'allow_anonymous false',
        `password_file ${passwd}`,
      ],
    });
    cleanups.push(broker.remove);
    const observerCert = certs.clients.observer;
    const deviceCert = certs.clients[DEVICE];
    if (!observerCert || !deviceCert) throw new Error('missing client certificates');
    const observer = await observe(broker.url, {
      username: 'observer',
      password: 'observer-secret',
      ca: readFileSync(certs.ca),
      cert: readFileSync(observerCert.cert),
      key: readFileSync(observerCert.key),
    });
    const link = await emulator();
    const settings = (password: string) => ({
      device: DEVICE,
      'serial.path': link,
      'mqtt.url': broker.url,
      'mqtt.username': DEVICE,
      'mqtt.password': password,
      'mqtt.tls.ca': certs.ca,
      'mqtt.tls.cert': deviceCert.cert,
      'mqtt.tls.key': deviceCert.key,
      'health.enabled': 'false',
    });

    const refused = capturedLog();
    const wrong = startAgent(loadAgentConfig(undefined, {}, { ...settings('guess'), dataDir: join(dir, 'wrong') }), {
      log: refused.logger,
    });
    cleanups.push(() => wrong.stop());
    await waitFor(() => refused.find('broker unreachable; readings wait in the outbox')[0], {
      timeoutMs: 10_000,
      what: 'the refusal logged',
    });
    expect(refused.find('broker unreachable; readings wait in the outbox')[0]?.reason).toMatch(/Not authori[sz]ed/);
    await wrong.stop();

    const env = { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50' };
    const agent = startAgent(loadAgentConfig(undefined, env, { ...settings('device-secret'), dataDir: join(dir, 'right') }), {
      log: capturedLog().logger,
    });
    cleanups.push(() => agent.stop());
    await waitFor(() => observer.readings.length >= 5, { timeoutMs: 15_000, what: 'readings over TLS' });
    expect(observer.readings.every((reading) => reading.boot === agent.boot)).toBe(true);
  });

  it('announces itself retained (version, sensors, units, ranges), and the broker says offline for it when it dies', async () => {
    const broker = await startMosquitto();
    cleanups.push(broker.stop);
    const link = await emulator();
    const agent = await startCli(
      'agent',
      ['--device', DEVICE, '--serial-path', link, '--mqtt-url', broker.url, '--data-dir', join(dir, 'agent')],
      {
        FURNACE_AGENT_HEALTH_PORT: '0',
      },
    );
    await healthPortOf(agent);
    // Subscribing after the birth: the retained messages tell a newcomer at once.
    const observer = await waitFor(
      async () => {
        const candidate = await observeAgent(broker.url, DEVICE);
        await waitFor(() => candidate.statuses.length > 0 && candidate.sensors.length > 0, { timeoutMs: 2000, what: 'retained' }).catch(
          () => undefined,
        );
        if (candidate.statuses[0]?.state === 'online' && candidate.sensorState('tc1')?.state === 'ok') return candidate;
        await candidate.stop();
        return undefined;
      },
      { timeoutMs: 15_000, what: 'the retained online status and tc1 ok' },
    );
    cleanups.push(observer.stop);
    const birth = observer.statuses[0];
    expect(birth).toMatchObject({
      v: 1,
      device: DEVICE,
      state: 'online',
      agentVersion: packageVersion,
      sensors: [{ id: 'tc1', unit: 'C', min: -200, max: 1372 }],
    });

    agent.child.kill('SIGKILL');
    await waitFor(() => observer.statuses.at(-1)?.state === 'offline', { timeoutMs: 10_000, what: 'the offline will' });
    expect(observer.statuses.at(-1)).toMatchObject({ state: 'offline', boot: birth?.boot });
  });

  it('on SIGTERM sends what waits, says offline and exits 0; without a broker it exits within the flush time', async () => {
    const broker = await startMosquitto();
    cleanups.push(broker.stop);
    const observer = await observe(broker.url);
    const link = await emulator();
    const outboxDir = join(dir, 'agent');
    // Batches every 10 s: at SIGTERM the readings of the last seconds are still waiting. No backend
    // here to confirm them: the broker's acknowledgement is what this test is about.
    const slow = { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '10000', FURNACE_AGENT_HEALTH_PORT: '0', FURNACE_AGENT_CONFIRM_BY: 'broker' };
    let agent = await startCli(
      'agent',
      ['--device', DEVICE, '--serial-path', link, '--mqtt-url', broker.url, '--data-dir', outboxDir],
      slow,
    );
    const health = await healthPortOf(agent);
    await waitFor(async () => (await agentMetric(health, 'furnace_agent_outbox_depth')) >= 5, {
      timeoutMs: 15_000,
      what: 'readings waiting',
    });
    agent.child.kill('SIGTERM');
    expect((await agent.waitForExit(10_000)).code).toBe(0);
    expect(observer.readings.length).toBeGreaterThan(0);
    expect(outboxRows(outboxDir)).toBe(0);
    await waitFor(() => observer.statuses.at(-1)?.state === 'offline', { timeoutMs: 5000, what: 'the offline status' });

    const nobody = await freePort();
    const pair = await startPtyPair();
    cleanups.push(pair.stop);
    agent = await startCli(
      'agent',
      ['--device', DEVICE, '--serial-path', pair.a, '--mqtt-url', `mqtt://127.0.0.1:${nobody}`, '--data-dir', outboxDir],
      {
        ...slow,
        FURNACE_AGENT_SHUTDOWN_FLUSH_MS: '1000',
      },
    );
    await agent.waitForLine(/broker unreachable/, 10_000);
    const stopAt = Date.now();
    agent.child.kill('SIGTERM');
    expect((await agent.waitForExit(10_000)).code).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(4000);
  });
});

function outboxRows(outboxDir: string): number {
  const db = new Database(join(outboxDir, 'outbox.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
