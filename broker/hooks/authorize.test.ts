// authorizePublish, authorizeSubscribe and authorizeForward (and the publish drop behind the first)
// through aedes on duplex clients: what a role may publish, subscribe to and receive.
// "Not delivered" is shown without waiting: a later message on the same path arrives first.
import { describe, expect, it } from 'vitest';
import { type HookedAedes, hookedAedesPerTest } from '../../test/helpers/hooked-aedes.js';
import type { DuplexClient } from '../../test/helpers/mqtt-duplex.js';
import { type TestUser, USERS, metricValue } from '../../test/helpers/test-broker.js';

const { devA, backend, viewer, admin } = USERS;

const start = hookedAedesPerTest();

async function login(hooked: HookedAedes, user: TestUser, clientId = user.username): Promise<DuplexClient> {
  const client = hooked.connect();
  const connack = await client.connect({ clientId, username: user.username, password: Buffer.from(user.password) });
  expect(connack).toMatchObject({ cmd: 'connack', returnCode: 0 });
  return client;
}

async function subscribe(client: DuplexClient, topics: string[], messageId = 1): Promise<number[]> {
  client.send({ cmd: 'subscribe', messageId, subscriptions: topics.map((topic) => ({ topic, qos: 1 })) });
  const suback = await client.next();
  expect(suback).toMatchObject({ cmd: 'suback', messageId });
  return (suback as { granted: number[] }).granted;
}

/** Publishes at QoS 1 and waits for the PUBACK, which a denied PUBLISH gets too [MQTT-3.3.5-2]. */
async function publish(client: DuplexClient, topic: string, payload: string, messageId: number, retain = false): Promise<void> {
  client.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId, retain, dup: false });
  expect(await client.next()).toMatchObject({ cmd: 'puback', messageId });
}

async function nextMessage(client: DuplexClient): Promise<{ topic: string; payload: string }> {
  const packet = await client.next();
  expect(packet.cmd).toBe('publish');
  const { topic, payload, qos, messageId } = packet as { topic: string; payload: Buffer; qos: number; messageId?: number };
  if (qos > 0) client.send({ cmd: 'puback', messageId: messageId ?? 0 });
  return { topic, payload: payload.toString() };
}

const count = (hooked: HookedAedes, name: string, labels: Record<string, string>) => metricValue(hooked, `furnace_broker_${name}`, labels);

describe('publish', () => {
  it('delivers what a role may publish to a subscriber that may receive it, counted in and out', async () => {
    const hooked = await start();
    const subscriber = await login(hooked, backend);
    expect(await subscribe(subscriber, ['telemetry/v1/#'])).toEqual([1]);
    const device = await login(hooked, devA);
    await publish(device, 'telemetry/v1/dev-a/readings', '{"t":601.5}', 7);
    expect(await nextMessage(subscriber)).toEqual({ topic: 'telemetry/v1/dev-a/readings', payload: '{"t":601.5}' });
    expect(await count(hooked, 'messages_received_total', { qos: '1' })).toBe(1);
    expect(await count(hooked, 'messages_delivered_total', { qos: '1' })).toBe(1);
  });

  it('acknowledges, then drops, a PUBLISH to a topic the role may not write, and counts it', async () => {
    const hooked = await start();
    const subscriber = await login(hooked, backend);
    await subscribe(subscriber, ['telemetry/v1/#']);
    const device = await login(hooked, devA);
    await publish(device, 'telemetry/v1/dev-b/readings', 'forged', 1); // another device's topic
    await publish(device, 'telemetry/v1/dev-a/stored', 'forged', 2); // only the backend confirms storage
    await publish(device, 'telemetry/v1/dev-a/readings', 'real', 3);
    expect(await nextMessage(subscriber)).toEqual({ topic: 'telemetry/v1/dev-a/readings', payload: 'real' });
    expect(await count(hooked, 'messages_dropped_total', { reason: 'publish_denied' })).toBe(2);
    expect(await count(hooked, 'denied_total', { kind: 'publish', role: 'device' })).toBe(2);
    expect(await count(hooked, 'messages_received_total', { qos: '1' })).toBe(1);
    // The device stays connected: MQTT 3.1.1 has no refusal for a PUBLISH.
    expect(device.isClosed()).toBe(false);
  });

  it('never stores a denied retained message', async () => {
    const hooked = await start();
    const device = await login(hooked, devA);
    await publish(device, 'telemetry/v1/dev-b/status', 'forged', 1, true);
    const stored = hooked.published('telemetry/v1/dev-a/status');
    await publish(device, 'telemetry/v1/dev-a/status', 'online', 2, true);
    await stored;
    const persistence = (
      hooked.aedes as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<{ topic: string }> } }
    ).persistence;
    const retained: string[] = [];
    for await (const packet of persistence.createRetainedStream('#')) retained.push(packet.topic);
    expect(retained).toEqual(['telemetry/v1/dev-a/status']);
  });

  it('refuses publishing to $SYS to every role, admin included', async () => {
    const hooked = await start();
    const client = await login(hooked, admin);
    await publish(client, '$SYS/fake/heartbeat', 'x', 1);
    expect(await count(hooked, 'denied_total', { kind: 'publish', role: 'admin' })).toBe(1);
  });
});

describe('subscribe', () => {
  it('answers a denied filter with SUBACK 0x80 and grants the rest of the same SUBSCRIBE', async () => {
    const hooked = await start();
    const client = await login(hooked, viewer);
    expect(await subscribe(client, ['alerts/v1/#', 'telemetry/v1/#', 'telemetry/v1/+/status', 'cmd/v1/+/+'])).toEqual([1, 128, 1, 128]);
    expect(await count(hooked, 'denied_total', { kind: 'subscribe', role: 'viewer' })).toBe(2);
    expect(client.isClosed()).toBe(false);
  });

  it('lets a device subscribe to its own commands only', async () => {
    const hooked = await start();
    const client = await login(hooked, devA);
    expect(await subscribe(client, ['cmd/v1/dev-a/+', 'cmd/v1/dev-b/+', 'cmd/v1/dev-a/#', 'telemetry/v1/dev-a/stored'])).toEqual([
      1, 128, 128, 1,
    ]);
  });
});

describe('forward', () => {
  const fenced = { acl: { deny: { subscribe: ['telemetry/v1/+/secret'] } } };

  it('withholds a fenced topic from a wider filter that was granted, counted as forward_denied', async () => {
    const hooked = await start({ config: fenced });
    const subscriber = await login(hooked, backend);
    expect(await subscribe(subscriber, ['telemetry/v1/#', 'telemetry/v1/dev-a/secret'])).toEqual([1, 128]);
    const publisher = await login(hooked, admin);
    await publish(publisher, 'telemetry/v1/dev-a/secret', 'hidden', 1);
    await publish(publisher, 'telemetry/v1/dev-a/readings', 'visible', 2);
    expect(await nextMessage(subscriber)).toEqual({ topic: 'telemetry/v1/dev-a/readings', payload: 'visible' });
    expect(await count(hooked, 'messages_dropped_total', { reason: 'forward_denied' })).toBe(1);
  });

  it('fences nothing off from admin', async () => {
    const hooked = await start({ config: fenced });
    const subscriber = await login(hooked, admin);
    expect(await subscribe(subscriber, ['telemetry/v1/#'])).toEqual([1]);
    // Under another client id: one already connected would be taken over.
    const publisher = await login(hooked, admin, 'admin-publisher');
    await publish(publisher, 'telemetry/v1/dev-a/secret', 'hidden', 1);
    expect(await nextMessage(subscriber)).toEqual({ topic: 'telemetry/v1/dev-a/secret', payload: 'hidden' });
  });
});
