// Limits under load: connection cap, thousands of half-open connections, per-client publish
// rate. Each is refused or closed, the broker goes on serving the others, counts and logs it,
// and memory returns near its starting point once the offenders are gone.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient } from './helpers/mqtt-wire.js';
import { type TestBroker, USERS, connectAs, metricValue, startTestBroker } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const raws: RawClient[] = [];
const clients: MqttClient[] = [];
const brokers: TestBroker[] = [];
afterEach(async () => {
  raws.splice(0).forEach((raw) => raw.destroy());
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
});

async function start(settings: Record<string, string>): Promise<TestBroker> {
  const server = await startTestBroker({ settings });
  brokers.push(server);
  return server;
}

async function serves(server: TestBroker, id: string): Promise<void> {
  const client = await connectAs(server.url, USERS.admin, { clientId: id });
  clients.push(client);
  const echo = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
  await client.subscribeAsync(`probe/${id}`, { qos: 1 });
  await client.publishAsync(`probe/${id}`, 'served', { qos: 1 });
  expect(await echo).toBe('served');
}

const tcpConnections = (server: TestBroker) => metricValue(server.broker, 'furnace_broker_connections', { listener: 'tcp' });

/** How many sockets this process may open (each connection costs two here: client and broker side). */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('connection limits', () => {
  it('closes connections over limits.maxConnections at once, and accepts again when there is room', async () => {
    const server = await start({ 'limits.maxConnections': '5' });
    const held = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(server.port)));
    raws.push(...held);
    await waitFor(async () => (await tcpConnections(server)) === 5, { timeoutMs: 5000, what: 'the broker to accept 5 connections' });
    const refused = await RawClient.connect(server.port);
    raws.push(refused);
    await refused.ended;
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'max_connections' })).toBe(1);
    held.forEach((raw) => raw.destroy());
    await waitFor(async () => (await tcpConnections(server)) === 0, {
      timeoutMs: 5000,
      what: 'the held connections to close',
    });
    await serves(server, 'after-the-crowd');
  });

  it('closes thousands of half-open connections after connectTimeoutMs, serving others meanwhile; memory returns', async () => {
    const count = Math.min(2000, Math.floor((openFileLimit() - 500) / 2));
    const server = await start({ 'limits.connectTimeoutMs': '2000', 'limits.maxConnections': String(count + 100) });
    await serves(server, 'warm-up'); // load the code paths before the baseline
    const baseline = heapAfterGc();
    const halfOpen: RawClient[] = [];
    for (let i = 0; i < count; i += 500) {
      halfOpen.push(...(await Promise.all(Array.from({ length: Math.min(500, count - i) }, () => RawClient.connect(server.port)))));
    }
    raws.push(...halfOpen);
    await serves(server, 'among-the-half-open');
    await Promise.all(halfOpen.map((raw) => raw.ended)); // closed by the broker, not by us
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'connect_timeout' })).toBe(count);
    // Logged once for the address, not once per connection.
    expect(
      server.log.find('no CONNECT within limits.connectTimeoutMs: connection closed').filter((line) => line.level === 40),
    ).toHaveLength(1);
    await waitFor(async () => (await tcpConnections(server)) <= 2, {
      timeoutMs: 5000,
      what: 'the broker to let go of the half-open connections',
    });
    raws.splice(0).forEach((raw) => raw.destroy());
    const growth = heapAfterGc() - baseline;
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('publish rate', () => {
  it('slows a client down to limits.publishRatePerSecond without losing any of its QoS 1 messages', async () => {
    const server = await start({ 'limits.publishRatePerSecond': '50', 'limits.publishBurst': '10' });
    const backend = await connectAs(server.url, USERS.backend);
    clients.push(backend);
    const received: number[] = [];
    backend.on('message', (_topic, payload) => received.push(Number(payload.toString())));
    await backend.subscribeAsync('telemetry/v1/dev-a/readings', { qos: 1 });
    const device = await connectAs(server.url, USERS.devA);
    clients.push(device);
    const started = performance.now();
    await Promise.all(Array.from({ length: 60 }, (_, i) => device.publishAsync('telemetry/v1/dev-a/readings', String(i), { qos: 1 })));
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(900); // 10 at once, then 50 at 50 per second
    await waitFor(() => received.length === 60, { timeoutMs: 5000, what: 'all 60 readings' });
    expect(received).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'publish_rate' })).toBeGreaterThan(0);
    expect(
      server.log.find('publish rate exceeded: client slowed down', { clientId: 'dev-a' }).filter((line) => line.level === 40),
    ).toHaveLength(1);
    expect(device.connected).toBe(true);
  });
});
