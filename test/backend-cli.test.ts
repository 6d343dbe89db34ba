// furnace-backend as operators run it: making a token, development open access, bad settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../backend/http/auth.js';
import { apiGet } from './helpers/backend-http.js';
import { DIST_DIR, startCli } from './helpers/cli.js';
import { freePorts } from './helpers/free-port.js';
import { startProcess, stopAllProcesses } from './helpers/process.js';

const backendCli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  startProcess(process.execPath, [join(DIST_DIR, 'backend', 'cli.js'), ...args], { env: { ...process.env, ...env } });

describe('furnace-backend command line', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'backend-cli-'));
  });
  afterEach(async () => {
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a new token and prints the config entry holding only its hash', async () => {
    const proc = await backendCli(['--new-token', 'grafana', '--scope', 'admin']);
    expect((await proc.waitForExit(10_000)).code).toBe(0);
    const output = proc.output();
    const token = /^\s+(ftk_[A-Za-z0-9_-]{43})$/m.exec(output)?.[1] ?? '';
    expect(token).not.toBe('');
    expect(output).toContain(`- name: grafana\n    sha256: ${hashToken(token)}\n    scopes: [read, admin]`);
  });

  it('answers without a token with --open-access, and warns about it', async () => {
    const [httpPort, mqttPort] = (await freePorts(2)) as [number, number];
    const args = [
      '--open-access',
      '--host',
      '127.0.0.1',
      '--port',
      String(httpPort),
      '--mqtt-url',
      `mqtt://127.0.0.1:${mqttPort}`,
      '--data-dir',
      dir,
    ];
    const backend = await startCli('backend', args);
    expect(backend.output(50)).toMatch(/auth\.openAccess is on: the API answers anyone/);
    expect(await apiGet(`http://127.0.0.1:${httpPort}`, '/api/v1/devices', null)).toMatchObject({ status: 200, body: { devices: [] } });
  });

  it('writes only what logLevel lets through (FURNACE_BACKEND_LOG_LEVEL=warn: warnings, not the info lines)', async () => {
    const [httpPort, mqttPort] = (await freePorts(2)) as [number, number];
    const args = [
      '--open-access',
      '--host',
      '127.0.0.1',
      '--port',
      String(httpPort),
      '--mqtt-url',
      `mqtt://127.0.0.1:${mqttPort}`,
      '--data-dir',
      dir,
    ];
    const backend = await backendCli(args, { FURNACE_BACKEND_LOG_LEVEL: 'warn' });
    await backend.waitForLine(/auth\.openAccess is on/);
    // Started: it answers. Had the level not taken effect, "HTTP API ready" (info) would be written by now.
    await expect
      .poll(async () => (await apiGet(`http://127.0.0.1:${httpPort}`, '/api/v1/devices', null).catch(() => ({ status: 0 }))).status, {
        timeout: 15_000,
      })
      .toBe(200);
    const levels = backend.lines.map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.every((level) => level >= 40)).toBe(true);
    expect(backend.lines.join('\n')).not.toContain('HTTP API ready');
  });

  it('refuses bad settings at start-up, naming each one and where it came from', async () => {
    const proc = await backendCli(['--data-dir', dir], { FURNACE_BACKEND_QUERY_WORKERS: '0', FURNACE_BACKEND_AUTH_OPEN_ACCESS: 'maybe' });
    expect((await proc.waitForExit(10_000)).code).toBe(2);
    expect(proc.output()).toMatch(/auth\.openAccess = "maybe": .*\[from environment FURNACE_BACKEND_AUTH_OPEN_ACCESS\]/);
    expect(proc.output()).toMatch(/query\.workers = 0: .*\[from environment FURNACE_BACKEND_QUERY_WORKERS\]/);
  });
});
