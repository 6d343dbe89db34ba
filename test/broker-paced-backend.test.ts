// Flow control for the backend (issue 14): a backend that falls behind under a burst (after an
// outage every agent replays at once) is slowed down with the publishers, never cut off, and
// gets every message once; a frozen subscriber of any other role is still cut off as before.
import type { IPublishPacket, MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { freeze, rawSubscriber } from './helpers/flood.js';
import type { RawClient } from './helpers/mqtt-wire.js';
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

/**
 * A backend-role subscriber that works like furnace-backend: a persistent session, and a message
 * handler that does not take the next message while its store is busy (here: until `resume()`),
 * so it stops reading its socket and TCP backs up to the broker.
 */
async function slowBackend(url: string) {
  const client = await connectAs(url, USERS.backend, { clientId: 'backend', clean: false });
  clients.push(client);
  const received: IPublishPacket[] = [];
  const waiting: Array<() => void> = [];
  let busy = true;
  let closes = 0;
  client.on('close', () => (closes += 1));
  client.handleMessage = (packet, done) => {
    received.push(packet);
    if (busy) waiting.push(() => done());
    else done();
  };
  await client.subscribeAsync('telemetry/v1/+/readings', { qos: 1 });
  return {
    received,
    closes: () => closes,
    resume: () => {
      busy = false;
      waiting.splice(0).forEach((go) => go());
    },
  };
}

describe('a slow backend under a burst', () => {
  it('is slowed down with the publishers, not disconnected, and loses nothing; a frozen stranger is still cut off', async () => {
    const server = await startTestBroker({
      settings: {
        'limits.publishRatePerSecond': '0',
        'limits.subscriberStallMs': '50',
        'limits.maxQueuedMessages': '50',
        'limits.drainTimeoutMs': '60000', // the stranger must be cut by its queue bound, as a backend would have been
      },
    });
    brokers.push(server);
    const stranger = await rawSubscriber(server.port, 'stranger', 'telemetry/v1/#', 1, {
      username: USERS.admin.username,
      password: USERS.admin.password,
    });
    raws.push(stranger);
    freeze(stranger);
    const backend = await slowBackend(server.url);
    const device = await connectAs(server.url, USERS.devA);
    clients.push(device);

    // 32 MB: far more than the TCP buffers between the broker and each subscriber hold.
    const count = 4000;
    const topic = `telemetry/v1/${USERS.devA.username}/readings`;
    let acknowledged = 0;
    const published = Array.from({ length: count }, (_, i) => {
      const payload = Buffer.alloc(8192, 0x41);
      payload.writeUInt32BE(i);
      return device.publishAsync(topic, payload, { qos: 1 }).then(() => void (acknowledged += 1));
    });

    // The backend's socket is full: the broker holds the device back instead of queueing for the backend.
    const paced = () => metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'subscriber_paced' });
    await waitFor(async () => (await paced()) >= 1, { timeoutMs: 20_000, what: 'the broker to slow publishers to the backend' });
    expect(acknowledged).toBeLessThan(count);
    expect(backend.received.length).toBeLessThan(count);
    expect(backend.closes()).toBe(0);

    backend.resume();
    await Promise.all(published);
    await waitFor(() => backend.received.length >= count, { timeoutMs: 30_000, what: `the backend to get all ${count} messages` });
    // Every message once, none sent again, on the one connection it had from the start.
    const seen = new Set(backend.received.map((packet) => (packet.payload as Buffer).readUInt32BE(0)));
    expect(seen.size).toBe(count);
    expect(backend.received).toHaveLength(count);
    expect(backend.received.filter((packet) => packet.dup)).toEqual([]);
    expect(backend.closes()).toBe(0);
    expect(server.log.find(/client disconnected/, { clientId: 'backend' })).toEqual([]);

    // The frozen stranger, on the same messages, was cut off by its queue bound as before.
    await waitFor(() => server.log.find('subscriber queue full: client disconnected', { clientId: 'stranger' }).length === 1, {
      timeoutMs: 10_000,
      what: 'the broker to cut the frozen stranger off',
    });
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'subscriber_queue' })).toBe(1);
  });

  it('a backend that stops reading altogether holds everyone back only until drainTimeoutMs, then is dropped', async () => {
    const server = await startTestBroker({
      settings: { 'limits.publishRatePerSecond': '0', 'limits.subscriberStallMs': '50', 'limits.drainTimeoutMs': '1500' },
    });
    brokers.push(server);
    const frozen = await rawSubscriber(server.port, 'frozen-backend', 'telemetry/v1/#', 1, {
      username: USERS.backend.username,
      password: USERS.backend.password,
    });
    raws.push(frozen);
    freeze(frozen);
    const healthy = await connectAs(server.url, USERS.admin, { clientId: 'healthy' });
    clients.push(healthy);
    await healthy.subscribeAsync('telemetry/v1/#', { qos: 1 });
    let got = 0;
    healthy.on('message', () => (got += 1));
    const device = await connectAs(server.url, USERS.devA);
    clients.push(device);
    const count = 3000; // 12 MB
    const payload = Buffer.alloc(4096, 0x42);
    await Promise.all(
      Array.from({ length: count }, () => device.publishAsync(`telemetry/v1/${USERS.devA.username}/readings`, payload, { qos: 1 })),
    );
    await waitFor(() => got === count, { timeoutMs: 30_000, what: `the healthy subscriber to get all ${count} messages` });
    await waitFor(() => server.log.find('client disconnected', { clientId: 'frozen-backend' }).length > 0, {
      timeoutMs: 10_000,
      what: 'the frozen backend to be dropped',
    });
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'subscriber_paced' })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'drain_timeout' })).toBe(1);
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'subscriber_queue' })).toBe(0);
  });
});
