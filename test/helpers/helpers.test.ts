// Proves each helper starts a program that really works and that stop() leaves no process or
// temp folder behind. Each describe skips with an install hint without the program; fails on CI.
import { existsSync } from 'node:fs';
import mqtt from 'mqtt';
import { SerialPort } from 'serialport';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { freePort, freePorts } from './free-port.js';
import { startInfluxDb } from './influxdb.js';
import { startMosquitto } from './mosquitto.js';
import { startProcess, stopAllProcesses } from './process.js';
import { describeWithProgram, findProgram, requireProgram } from './require-program.js';
import { redisCommand, startRedis } from './redis.js';
import { startPtyPair } from './socat.js';
import type { TempDaemon } from './temp-daemon.js';
import { tcpAccepts, waitFor } from './wait-for.js';

type Started = Pick<TempDaemon, 'pid' | 'dir' | 'stop'>;

// afterEach stops what a test started (and removes its temp folder) even if it failed half way.
const started: Started[] = [];
const track = <T extends Started>(helper: T): T => {
  started.push(helper);
  return helper;
};
afterEach(async () => {
  await Promise.all(started.splice(0).map((helper) => helper.stop()));
});
afterAll(stopAllProcesses); // safety net for bare startProcess() calls

/** Stops `helper` and checks that the process and its temp folder are really gone. */
async function stopAndExpectGone(helper: Started, port?: number): Promise<void> {
  await helper.stop();
  // Signal 0 only checks existence: ESRCH once the process has exited and been reaped.
  expect(() => process.kill(helper.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }) as Error);
  expect(existsSync(helper.dir)).toBe(false);
  if (port !== undefined) expect(await tcpAccepts(port)).toBe(false);
}

describe('require-program', () => {
  afterEach(() => {
    vi.unstubAllEnvs(); // puts CI and PATH back as they were
    vi.restoreAllMocks();
  });
  it('finds programs on PATH, and in /usr/sbin even when PATH lacks it', () => {
    expect(findProgram('sh')).toMatch(/\/sh$/);
    expect(findProgram('definitely-not-a-program-xyz')).toBeUndefined();
    vi.stubEnv('PATH', '/nonexistent');
    expect(findProgram('sh')).toBeUndefined();
    if (existsSync('/usr/sbin/ldconfig')) expect(findProgram('ldconfig')).toBe('/usr/sbin/ldconfig');
  });

  it('skips with an install hint off CI, and throws the same hint on CI', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const hint = 'definitely-not-a-program-xyz not found: install the Debian package x (apt-get install x)';
    vi.stubEnv('CI', undefined);
    expect(requireProgram('definitely-not-a-program-xyz', 'x')).toEqual({ skip: hint });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(hint));
    vi.stubEnv('CI', 'true');
    expect(() => requireProgram('definitely-not-a-program-xyz', 'x')).toThrow(hint);
    expect(requireProgram('sh', 'dash')).toEqual({ path: expect.stringMatching(/\/sh$/) as string });
  });
});

describe('free-port, wait-for, process', () => {
  it('hands out distinct ports that nothing listens on', async () => {
    expect(new Set(await freePorts(3)).size).toBe(3);
    expect(await tcpAccepts(await freePort())).toBe(false);
  });

  it('waitFor returns the first real value and names what timed out', async () => {
    let calls = 0;
    expect(await waitFor(() => (++calls >= 3 ? 'ok' : undefined), { timeoutMs: 1000, intervalMs: 1, what: 'x' })).toBe('ok');
    const never = waitFor(() => false, { timeoutMs: 100, what: 'the moon' });
    await expect(never).rejects.toThrow('timed out after 100 ms waiting for the moon');
  });

  it('waits for a line, reports output on failure, stops with SIGTERM', async () => {
    const proc = await startProcess('sh', ['-c', 'echo starting >&2; echo ready; exec sleep 60'], { readyLine: /^ready$/ });
    expect(await proc.waitForLine(/^starting$/, 1000)).toBe('starting'); // stderr, maybe after stdout
    await proc.stop();
    expect(proc.exit?.signal).toBe('SIGTERM');
    await expect(startProcess('sh', ['-c', 'echo boom; exit 3'], { readyLine: /never/ })).rejects.toThrow(/boom/);
  });
});

describeWithProgram('socat', 'socat', 'startPtyPair', () => {
  it('carries bytes from a to b like a serial cable', async () => {
    const pair = track(await startPtyPair());
    const a = new SerialPort({ path: pair.a, baudRate: 9600, autoOpen: false });
    const b = new SerialPort({ path: pair.b, baudRate: 9600, autoOpen: false });
    const open = (port: SerialPort) => new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    const close = (port: SerialPort) => new Promise<void>((res) => (port.isOpen ? port.close(() => res()) : res()));
    let received = '';
    try {
      await Promise.all([open(a), open(b)]);
      b.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      a.write('T=1234.5\r\n');
      expect(await waitFor(() => received === 'T=1234.5\r\n', { timeoutMs: 5000, what: 'bytes on b' })).toBe(true);
    } finally {
      await Promise.all([close(a), close(b)]);
    }
    await stopAndExpectGone(pair);
  });
});

describeWithProgram('mosquitto', 'mosquitto', 'startMosquitto', () => {
  it('delivers a QoS 1 message to a real MQTT.js subscriber', async () => {
    const broker = track(await startMosquitto());
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 5000 });
    try {
      const message = new Promise((resolve) =>
        client.once('message', (topic, payload, { qos }) => resolve([topic, payload.toString(), qos])),
      );
      await client.subscribeAsync('furnace/test', { qos: 1 });
      await client.publishAsync('furnace/test', '{"t":1234.5}', { qos: 1 });
      expect(await message).toEqual(['furnace/test', '{"t":1234.5}', 1]);
    } finally {
      await client.endAsync();
    }
    await stopAndExpectGone(broker, broker.port);
  });
});

describeWithProgram('redis-server', 'redis-server', 'startRedis', () => {
  it('answers PING and stores a value', async () => {
    const redis = track(await startRedis());
    expect(await redisCommand(redis.port, ['PING'])).toBe('+PONG\r\n');
    expect(await redisCommand(redis.port, ['SET', 'furnace', 'hot'])).toBe('+OK\r\n');
    expect(await redisCommand(redis.port, ['GET', 'furnace'])).toBe('$3\r\nhot\r\n');
    expect(await redisCommand(redis.port, ['GET', 'missing'])).toBe('$-1\r\n');
    await stopAndExpectGone(redis, redis.port);
  });
});

describeWithProgram('influxd', 'influxdb', 'startInfluxDb', () => {
  it('creates a database, writes a point and queries it back', async () => {
    const influx = track(await startInfluxDb());
    type Reply = { results: { series?: { values: unknown[][] }[]; error?: string }[] };
    const query = async (q: string) => {
      const response = await fetch(`${influx.url}/query?db=t`, { method: 'POST', body: new URLSearchParams({ q }) });
      return { status: response.status, ...((await response.json()) as Reply) };
    };
    expect(await query('CREATE DATABASE t')).toEqual({ status: 200, results: [{ statement_id: 0 }] });
    const write = await fetch(`${influx.url}/write?db=t`, { method: 'POST', body: 'furnace,site=a temp=1234.5 1700000000000000000' });
    expect(write.status).toBe(204);
    const { status, results } = await query('SELECT temp FROM furnace');
    expect(status).toBe(200);
    expect(results[0]?.series?.[0]?.values).toEqual([['2023-11-14T22:13:20Z', 1234.5]]);
    await stopAndExpectGone(influx, influx.port);
  });
});
