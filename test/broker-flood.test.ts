// A subscriber that stops reading its socket must not stall the others, and killing it in the
// middle of a flood must not crash the broker, as it crashes bare aedes ("Maximum call stack
// size exceeded", reproduced below in a worker thread so that it cannot take the tests down).
import { Worker } from 'node:worker_threads';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { flood, freeze, rawSubscriber } from './helpers/flood.js';
import type { RawClient } from './helpers/mqtt-wire.js';
import { type TestBroker, USERS, connectAs, metricValue, startTestBroker } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const raws: RawClient[] = [];
const clients: MqttClient[] = [];
const brokers: TestBroker[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  raws.splice(0).forEach((raw) => raw.destroy());
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

const admin = { username: USERS.admin.username, password: USERS.admin.password };

// The crash needs many small messages queued in aedes' emitter behind a frozen subscriber.
const CRASH_LOAD = { publishers: 40, messagesEach: 20_000, topic: 'flood/x', payloadBytes: 10 };

// Bare aedes 1.2.0 as its README shows it, in a worker with the main thread's stack size (1 MB).
const BARE_AEDES = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:net');
import(workerData.aedes).then(async ({ Aedes }) => {
  const aedes = await Aedes.createBroker();
  aedes.on('clientError', () => {});
  aedes.on('connectionError', () => {});
  const server = createServer(aedes.handle);
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
  setInterval(() => parentPort.postMessage({ queued: aedes.mq.length }), 50);
});
`;

describe('flood with a frozen subscriber', () => {
  // Fails once aedes/mqemitter fix the crash: then broker/guards/mq-guards.ts can drop its recursion guard.
  it('crashes bare aedes when the frozen subscriber is killed (the failure reproduced)', async () => {
    const worker = new Worker(BARE_AEDES, {
      eval: true,
      workerData: { aedes: import.meta.resolve('aedes') },
      resourceLimits: { stackSizeMb: 1 },
    });
    workers.push(worker);
    let queued = 0;
    let port = 0;
    worker.on('message', (message: { port?: number; queued?: number }) => {
      port = message.port ?? port;
      queued = message.queued ?? queued;
    });
    const crashed = new Promise<Error>((resolve) => worker.once('error', resolve));
    await waitFor(() => port > 0, { timeoutMs: 5000, what: 'bare aedes to listen' });
    const frozen = await rawSubscriber(port, 'frozen', 'flood/#', 0);
    raws.push(frozen, await rawSubscriber(port, 'healthy', 'other/#', 0));
    freeze(frozen);
    raws.push(...(await flood(port, CRASH_LOAD)));
    await waitFor(() => queued > 50_000, { timeoutMs: 20_000, what: 'messages to queue behind the frozen subscriber' });
    frozen.destroy();
    const error = await crashed;
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/Maximum call stack size exceeded/);
  });
});

/** Arrival times of the messages `client` receives. */
function arrivals(client: MqttClient): number[] {
  const times: number[] = [];
  client.on('message', () => times.push(performance.now()));
  return times;
}

const largestGap = (times: number[]) => times.slice(1).reduce((gap, time, i) => Math.max(gap, time - (times[i] ?? time)), 0);

/** Waits for the broker to have disconnected `clientId` (a frozen client, not reading, would never notice). */
async function disconnectedByBroker(server: TestBroker, clientId: string): Promise<void> {
  await waitFor(() => server.log.find('client disconnected', { clientId }).length > 0, {
    timeoutMs: 10_000,
    what: `the broker to disconnect ${clientId}`,
  });
}

/** A message sent now reaches `subscriber` (on `topic`, which it subscribes to). */
async function stillDelivers(url: string, subscriber: MqttClient, topic: string): Promise<void> {
  const probe = await connectAs(url, USERS.admin, { clientId: `probe-${Math.random().toString(36).slice(2)}` });
  clients.push(probe);
  const got = new Promise<void>((resolve) =>
    subscriber.on('message', (t, payload) => t === topic && payload.toString() === 'probe' && resolve()),
  );
  await probe.publishAsync(topic, 'probe', { qos: 1 });
  await got;
}

describe('our broker, same floods', () => {
  it('survives the flood and kill that crash bare aedes', async () => {
    const server = await startTestBroker({ settings: { 'limits.publishRatePerSecond': '0' } });
    brokers.push(server);
    const frozen = await rawSubscriber(server.port, 'frozen', 'flood/#', 0, admin);
    raws.push(frozen);
    const healthy = await connectAs(server.url, USERS.admin, { clientId: 'healthy' });
    clients.push(healthy);
    await healthy.subscribeAsync('other/#', { qos: 1 });
    freeze(frozen);
    raws.push(...(await flood(server.port, { ...CRASH_LOAD, credentials: admin })));
    const relayed = async () => metricValue(server.broker, 'furnace_broker_messages_received_total', { qos: '0' });
    await waitFor(async () => (await relayed()) > 100_000, { timeoutMs: 20_000, what: 'the flood to be under way' });
    frozen.destroy();
    // The flood goes on being relayed after the kill, and other topics are still served.
    const atKill = await relayed();
    await waitFor(async () => (await relayed()) > atKill + 20_000, { timeoutMs: 20_000, what: 'the flood to go on after the kill' });
    await stillDelivers(server.url, healthy, 'other/probe');
  });

  /** A broker with a frozen and a healthy subscriber on flood/#, and a publisher, all at `qos`. */
  async function floodScene(qos: 0 | 1, drainTimeoutMs: number) {
    const server = await startTestBroker({
      settings: {
        'limits.publishRatePerSecond': '0',
        'limits.drainTimeoutMs': String(drainTimeoutMs),
        'limits.subscriberStallMs': '100',
        'limits.maxQueuedMessages': '1000000',
        'limits.maxQueuedBytes': String(1024 * 1024 * 1024),
      },
    });
    brokers.push(server);
    const frozen = await rawSubscriber(server.port, 'frozen', 'flood/#', qos, admin);
    raws.push(frozen);
    const healthy = await connectAs(server.url, USERS.admin, { clientId: 'healthy' });
    clients.push(healthy);
    await healthy.subscribeAsync('flood/#', { qos });
    const times = arrivals(healthy);
    freeze(frozen);
    const publisher = await connectAs(server.url, USERS.admin, { clientId: 'publisher' });
    clients.push(publisher);
    return { server, frozen, healthy, times, publisher };
  }

  it('QoS 0: a healthy subscriber is not stalled by a frozen one on the same topic, which stays connected until killed', async () => {
    const { server, frozen, healthy, times, publisher } = await floodScene(0, 60_000);
    const payload = Buffer.alloc(4096, 0x42);
    const count = 3000; // 12 MB: far more than the frozen subscriber's socket buffers hold
    for (let i = 0; i < count; i += 1) publisher.publish('flood/x', payload, { qos: 0 });
    await waitFor(() => times.length === count, { timeoutMs: 20_000, what: `the healthy subscriber to get all ${count} messages` });
    // The frozen subscriber holds deliveries up for stallMs (100 ms), not drainTimeout (60 s); the rest is a loaded machine's slack.
    expect(largestGap(times)).toBeLessThan(2000);
    expect(frozen.closed).toBe(false);
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'subscriber_stall' })).toBeGreaterThanOrEqual(1);
    frozen.destroy();
    await stillDelivers(server.url, healthy, 'flood/probe');
  });

  it('QoS 1: the healthy subscriber gets everything while drainTimeout drops the frozen one', async () => {
    const { server, healthy, times, publisher } = await floodScene(1, 3000);
    const payload = Buffer.alloc(4096, 0x43);
    const count = 3000;
    await Promise.all(Array.from({ length: count }, () => publisher.publishAsync('flood/x', payload, { qos: 1 })));
    await waitFor(() => times.length === count, { timeoutMs: 20_000, what: `the healthy subscriber to get all ${count} messages` });
    expect(largestGap(times)).toBeLessThan(2000); // well inside drainTimeout: not waiting on the frozen one
    await disconnectedByBroker(server, 'frozen'); // dropped by the broker, not by us
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'drain_timeout' })).toBe(1);
    await stillDelivers(server.url, healthy, 'flood/probe');
  });

  it('disconnects a frozen subscriber whose queue overflows, and counts it', async () => {
    const server = await startTestBroker({
      settings: { 'limits.publishRatePerSecond': '0', 'limits.subscriberStallMs': '50', 'limits.maxQueuedMessages': '200' },
    });
    brokers.push(server);
    const frozen = await rawSubscriber(server.port, 'frozen', 'flood/#', 0, admin);
    raws.push(frozen);
    freeze(frozen);
    raws.push(
      ...(await flood(server.port, { publishers: 1, messagesEach: 5000, topic: 'flood/x', payloadBytes: 4096, credentials: admin })),
    );
    await disconnectedByBroker(server, 'frozen');
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'subscriber_queue' })).toBe(1);
    expect(server.log.find('subscriber queue full: client disconnected', { clientId: 'frozen' })).toHaveLength(1);
  });
});
