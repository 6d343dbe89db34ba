// `furnace-broker` as operators run it: passwd management, the development flag for anonymous
// clients, start-up errors, SIGHUP reload, metrics over HTTP, graceful stop.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIST_DIR, startCli } from './helpers/cli.js';
import { freePorts } from './helpers/free-port.js';
import type { RunningProcess } from './helpers/process.js';
import { USERS, connectAs } from './helpers/test-broker.js';

const CLI = join(DIST_DIR, 'broker', 'cli.js');
const run = promisify(execFile);
let dir: string;
const running: RunningProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'test-broker-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(running.splice(0).map((proc) => proc.stop()));
});

/** Runs the CLI to completion; resolves with its exit code and output. */
async function cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  if (input !== undefined) {
    try {
      return { code: 0, stdout: execFileSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8' }), stderr: '' };
    } catch (error) {
      const failed = error as { status: number; stdout: string; stderr: string };
      return { code: failed.status, stdout: failed.stdout, stderr: failed.stderr };
    }
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function broker(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningProcess> {
  const proc = await startCli('broker', ['--host', '127.0.0.1', ...args], env);
  running.push(proc);
  return proc;
}

describe('furnace-broker passwd', () => {
  it('manages users from the command line, the password piped on stdin', async () => {
    const file = join(dir, 'passwd-users');
    expect(await cli(['passwd', 'add', 'furnace-1', '--role', 'device', '--file', file], 'secret-1\n')).toMatchObject({
      code: 0,
      stdout: `added furnace-1 (device) in ${file}\n`,
    });
    expect((await cli(['passwd', 'add', 'ops', '--role', 'admin', '--password', 'secret-2', '--file', file])).code).toBe(0);
    expect((await cli(['passwd', 'list', '--file', file])).stdout).toBe('furnace-1\tdevice\nops\tadmin\n');
    expect((await cli(['passwd', 'remove', 'ops', '--file', file])).stdout).toBe(`removed ops from ${file}\n`);
    const bad = await cli(['passwd', 'add', 'furnace/2', '--role', 'device', '--password', 'x', '--file', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^furnace-broker: BROKER_USER_INVALID: /);
  });
});

describe('furnace-broker', () => {
  it('refuses to start without credentials, naming the settings to set', async () => {
    const [port] = await freePorts(1);
    const result = await cli(['--port', String(port)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /CONTRACT_SETTINGS_INVALID: invalid settings:\n {2}auth\.passwordFile is not set and auth\.allowAnonymous is false/,
    );
  });

  it('prints the settings in force with --print-config, credentials inside URLs masked, and exits', async () => {
    const file = join(dir, 'print-users');
    const redisUrl = 'redis://furnace:redis-secret@10.0.0.5:6379/2';
    const result = await cli([
      '--port',
      '1999',
      '--password-file',
      file,
      '--persistence',
      'redis',
      '--redis-url',
      redisUrl,
      '--print-config',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('redis-secret');
    const settings = JSON.parse(result.stdout) as {
      tcp: { port: number };
      auth: { passwordFile: string };
      persistence: { backend: string; redisUrl: string };
      logLevel: string;
    };
    expect(settings.persistence).toMatchObject({ backend: 'redis', redisUrl: 'redis://furnace:********@10.0.0.5:6379/2' });
    expect([settings.tcp.port, settings.auth.passwordFile, settings.logLevel]).toEqual([1999, file, 'info']);
  });

  it('with --allow-anonymous, warns at start and lets clients in without credentials', async () => {
    const [port] = await freePorts(1);
    const proc = await broker(['--port', String(port), '--allow-anonymous']);
    expect(await proc.waitForLine(/auth\.allowAnonymous is on/)).toMatch(/"level":40/);
    const client = await connectAs(`mqtt://127.0.0.1:${port}`, undefined, { clientId: 'anonymous' });
    await client.publishAsync('telemetry/v1/furnace-1/readings', 'dev', { qos: 1 });
    await client.endAsync();
  });

  it('names a port in use', async () => {
    const [port] = await freePorts(1);
    await broker(['--port', String(port), '--allow-anonymous']);
    const second = await cli(['--host', '127.0.0.1', '--port', String(port), '--allow-anonymous']);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`BROKER_PORT_IN_USE: tcp.port ${port} on 127.0.0.1 is already in use`);
  });

  it('reloads the credentials on SIGHUP, serves /metrics, and stops cleanly on SIGTERM', async () => {
    const file = join(dir, 'sighup-users');
    await cli(['passwd', 'add', USERS.admin.username, '--role', 'admin', '--password', USERS.admin.password, '--file', file]);
    const [port, metricsPort] = await freePorts(2);
    const proc = await broker(['--port', String(port), '--password-file', file, '--metrics-port', String(metricsPort)]);
    const client = await connectAs(`mqtt://127.0.0.1:${port}`, USERS.admin);
    await client.publishAsync('anything/at/all', 'x', { qos: 1 });
    proc.child.kill('SIGHUP');
    await proc.waitForLine(/credentials reloaded/);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^furnace_broker_messages_received_total\{qos="1"\} 1$/m);
    expect(metrics).toMatch(/^furnace_broker_credentials_reloads_total\{result="ok"\} [1-9]/m);
    expect(metrics).toMatch(/^furnace_broker_connections\{listener="tcp"\} 1$/m);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    proc.child.kill('SIGTERM');
    expect(await proc.waitForExit()).toEqual({ code: 0, signal: null });
    await closed;
    expect(proc.lines.some((line) => line.includes('"msg":"broker stopped"'))).toBe(true);
    client.end(true);
  });
});
