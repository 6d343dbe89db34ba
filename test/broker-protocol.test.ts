// MQTT 3.1.1 as the spec says, checked on the wire with a raw socket where a client library
// would not send the packet: client ids [MQTT-3.1.3-6/-8], first and second CONNECT, bad bytes,
// oversized packets, keepalive bounds; and with MQTT.js for QoS 2, retained messages,
// persistent sessions and the $SYS heartbeat.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DISCONNECT, PINGREQ, RawClient, encodePublish, encodeSubscribe, remainingLength } from './helpers/mqtt-wire.js';
import { type TestBroker, USERS, connectAs, metricValue, startTestBroker } from './helpers/test-broker.js';

const MAX_PACKET = 64 * 1024;
let server: TestBroker;
const raws: RawClient[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  server = await startTestBroker({
    settings: { 'limits.maxPacketBytes': String(MAX_PACKET), 'limits.maxClientIdLength': '40', 'sys.heartbeatIntervalMs': '1000' },
  });
});
afterAll(() => server.stop());
afterEach(async () => {
  raws.splice(0).forEach((raw) => raw.destroy());
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
});

async function raw(port = server.port): Promise<RawClient> {
  const client = await RawClient.connect(port);
  raws.push(client);
  return client;
}

const admin = { username: USERS.admin.username, password: USERS.admin.password };

/** Proves the broker still serves: a fresh client subscribes, publishes and gets its message back. */
async function brokerStillServes(): Promise<void> {
  const client = await connectAs(server.url, USERS.admin, { clientId: `probe-${Math.random().toString(36).slice(2)}` });
  clients.push(client);
  const message = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
  await client.subscribeAsync('probe/echo', { qos: 1 });
  await client.publishAsync('probe/echo', 'still here', { qos: 1 });
  expect(await message).toBe('still here');
}

describe('client identifiers', () => {
  it('assigns an id to a zero-length client id with clean session [MQTT-3.1.3-6]', async () => {
    const client = await raw();
    expect(await client.connack({ clientId: '', clean: true, ...admin })).toBe(0);
    client.write(encodeSubscribe(7, [{ topic: 'probe/zero', qos: 0 }]));
    const suback = await client.next(9);
    expect([...suback.body]).toEqual([0, 7, 0]);
    expect(server.broker.aedes.connectedClients).toBeGreaterThan(0);
  });

  it('refuses a zero-length client id without clean session with CONNACK 0x02 and closes [MQTT-3.1.3-8]', async () => {
    const client = await raw();
    expect(await client.connack({ clientId: '', clean: false, ...admin })).toBe(2);
    await client.ended;
    expect(client.closed).toBe(true);
  });

  // Fails once aedes gets this right itself: then broker/hooks/connect-checks.ts can drop its workaround.
  it('bare aedes 1.2 accepts that CONNECT (the bug worked around)', async () => {
    const bare = await Aedes.createBroker();
    const tcp = createServer(bare.handle);
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      const client = await raw((tcp.address() as { port: number }).port);
      expect(await client.connack({ clientId: '', clean: false })).toBe(0);
      client.destroy();
    } finally {
      await new Promise<void>((resolve) => bare.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it('refuses an empty id in MQTT 3.1, and ids over limits.maxClientIdLength, with 0x02', async () => {
    expect(await (await raw()).connack({ clientId: '', protocolLevel: 3, ...admin })).toBe(2);
    expect(await (await raw()).connack({ clientId: 'x'.repeat(41), ...admin })).toBe(2);
    expect(await (await raw()).connack({ clientId: 'x'.repeat(40), ...admin })).toBe(0);
  });
});

describe('bad clients', () => {
  it('closes a connection whose first packet is not CONNECT [MQTT-3.1.0-1], or that sends CONNECT twice [MQTT-3.1.0-2]', async () => {
    const first = await raw();
    first.write(PINGREQ);
    await first.ended;
    const twice = await raw();
    expect(await twice.connack({ clientId: 'twice', ...admin })).toBe(0);
    twice.write(encodeSubscribe(1, [{ topic: 'a', qos: 0 }]));
    await twice.next(9);
    twice.write(
      Buffer.concat([Buffer.from([0x10]), remainingLength(12), Buffer.from('\u0000\u0004MQTT\u0004\u0002\u0000\u003c\u0000\u0000')]),
    );
    await twice.ended;
    await brokerStillServes();
  });

  it('closes connections that send garbage instead of CONNECT, and goes on serving', async () => {
    const garbage = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0x10, 0x04, 0x00, 0x02, 0x41, 0x42]),
    ];
    const connections = await Promise.all(garbage.map(() => raw()));
    connections.forEach((connection, i) => connection.write(garbage[i] as Buffer));
    await Promise.all(connections.map((connection) => connection.ended));
    await brokerStillServes();
  });

  it('disconnects a client announcing a packet over limits.maxPacketBytes before its body arrives, and counts it', async () => {
    const client = await raw();
    expect(await client.connack({ clientId: 'big', ...admin })).toBe(0);
    const before = await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'max_packet_size' });
    // A PUBLISH announcing 200 MB; only its first kilobyte is ever sent.
    client.write(Buffer.concat([Buffer.from([0x30]), remainingLength(200 * 1024 * 1024), Buffer.alloc(1024, 0x41)]));
    await client.ended;
    expect(await metricValue(server.broker, 'furnace_broker_limit_hits_total', { limit: 'max_packet_size' })).toBe(before + 1);
    // A packet just under the limit goes through.
    const ok = await raw();
    expect(await ok.connack({ clientId: 'not-too-big', ...admin })).toBe(0);
    ok.write(encodePublish('probe/big', Buffer.alloc(MAX_PACKET - 100), 1));
    expect((await ok.next(4)).type).toBe(4); // PUBACK
    // Also before CONNECT: an oversized CONNECT is cut off without being buffered.
    const early = await raw();
    early.write(Buffer.concat([Buffer.from([0x10]), remainingLength(100 * 1024 * 1024), Buffer.alloc(100)]));
    await early.ended;
    await brokerStillServes();
  });

  it('bounds keepalive: a client asking for none is dropped once silent 1.5 x keepaliveMaxSeconds', async () => {
    const strict = await startTestBroker({ settings: { 'limits.keepaliveMaxSeconds': '1', 'limits.keepaliveMinSeconds': '1' } });
    try {
      const client = await RawClient.connect(strict.port);
      raws.push(client);
      expect(await client.connack({ clientId: 'sleepy', keepalive: 0, ...admin })).toBe(0);
      const started = Date.now();
      await client.ended;
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(await metricValue(strict.broker, 'furnace_broker_limit_hits_total', { limit: 'keepalive_adjusted' })).toBe(1);
      expect(await metricValue(strict.broker, 'furnace_broker_limit_hits_total', { limit: 'keepalive_timeout' })).toBe(1);
    } finally {
      await strict.stop();
    }
  });
});

describe('MQTT features', () => {
  it('relays QoS 2, keeps retained messages, and keeps a persistent session while its client is away', async () => {
    const backend = await connectAs(server.url, USERS.backend, { clean: false, clientId: 'backend-session' });
    await backend.subscribeAsync('telemetry/v1/+/readings', { qos: 2 });
    await backend.endAsync();
    const device = await connectAs(server.url, USERS.devA);
    clients.push(device);
    await device.publishAsync('telemetry/v1/dev-a/readings', 'while away', { qos: 2 });
    await device.publishAsync('telemetry/v1/dev-a/status', 'online', { qos: 1, retain: true });
    // Back with the same session: the message published while away arrives, at QoS 2.
    const again = await connectAs(server.url, USERS.backend, { clean: false, clientId: 'backend-session' });
    clients.push(again);
    const got = await new Promise<[string, string, number]>((resolve) =>
      again.once('message', (topic, payload, packet) => resolve([topic, payload.toString(), packet.qos])),
    );
    expect(got).toEqual(['telemetry/v1/dev-a/readings', 'while away', 2]);
    // A new subscriber gets the retained status at once.
    const viewer = await connectAs(server.url, USERS.viewer);
    clients.push(viewer);
    const retained = new Promise<[string, boolean]>((resolve) =>
      viewer.once('message', (_t, payload, packet) => resolve([payload.toString(), packet.retain])),
    );
    await viewer.subscribeAsync('telemetry/v1/+/status', { qos: 1 });
    expect(await retained).toEqual(['online', true]);
  });

  it('publishes a $SYS heartbeat that admins can read and viewers cannot subscribe to', async () => {
    const root = await connectAs(server.url, USERS.admin);
    clients.push(root);
    const beat = new Promise<string>((resolve) => root.once('message', (topic) => resolve(topic)));
    await root.subscribeAsync('$SYS/+/heartbeat', { qos: 0 });
    expect(await beat).toBe(`$SYS/${server.broker.aedes.id}/heartbeat`);
    const client = await raw();
    expect(await client.connack({ clientId: 'viewer', username: USERS.viewer.username, password: USERS.viewer.password })).toBe(0);
    client.write(encodeSubscribe(3, [{ topic: '$SYS/#', qos: 0 }]));
    expect([...(await client.next(9)).body]).toEqual([0, 3, 0x80]);
    client.write(DISCONNECT);
  });
});
