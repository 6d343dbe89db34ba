import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'aedes';
import type Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertState, AlertTransition } from '../../../contract/index.js';
import { MqttAlertRecorder } from '../../../test/helpers/alert-channels.js';
import { CapturedLog, type TestBroker, USERS, connectAs, startTestBroker } from '../../../test/helpers/test-broker.js';
import { waitFor } from '../../../test/helpers/wait-for.js';
import { BackendMetrics } from '../../metrics.js';
import { openAlertDb } from '../store/alert-db.js';
import type { ChannelItem } from '../types.js';
import { Dispatcher } from './dispatcher.js';
import { MqttAlertChannel } from './mqtt-channel.js';
import { ChannelOutbox } from './outbox.js';

const DEVICE = 'oven-1';

function transition(n: number, rule = 'hot', silenced = false): ChannelItem {
  const to = n % 2 === 1 ? 'firing' : 'resolved';
  const from = to === 'firing' ? 'inactive' : 'firing';
  const event: AlertTransition = {
    v: 1,
    id: `ev-${n}`,
    device: DEVICE,
    rule,
    from,
    to,
    ts: 1_764_000_000_000 + n,
    severity: 'critical',
    message: `event ${n}`,
  };
  const state: AlertState = {
    v: 1,
    device: DEVICE,
    rule,
    state: to,
    severity: 'critical',
    since: event.ts,
    eventId: event.id,
    message: event.message,
  };
  return { kind: 'transition', seq: n, event, silenced, state };
}

describe('MqttAlertChannel', () => {
  let broker: TestBroker;
  let publisher: MqttClient;
  let dir: string;
  let db: Database.Database;
  let log: CapturedLog;
  let viewers = 0;
  const closers: Array<() => Promise<unknown>> = [];
  beforeEach(async () => {
    broker = await startTestBroker();
    // The backend's client: persistent session, reconnecting; the channel must never end it.
    publisher = await connectAs(broker.url, USERS.backend, { clean: false });
    dir = mkdtempSync(join(tmpdir(), 'alert-mqtt-'));
    db = openAlertDb(dir);
    log = new CapturedLog();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await publisher.endAsync(true);
    await broker.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function recorder(): Promise<MqttAlertRecorder> {
    const made = await MqttAlertRecorder.connect(broker.url, { ...USERS.viewer, clientId: `viewer-${++viewers}` });
    closers.push(() => made.close());
    return made;
  }

  /**
   * What a new subscriber to `topic` gets as retained. The broker sends retained messages as it
   * grants the subscription, before it routes anything published after: a live marker published
   * next closes the list, so absence is known without waiting an arbitrary time. (The marker's
   * topic is one level deeper, out of the recorders' alerts/v1/+/+.)
   */
  async function retainedFor(topic: string): Promise<string[]> {
    const client = await connectAs(broker.url, USERS.viewer, { clientId: `viewer-${++viewers}` });
    closers.push(() => client.endAsync(true));
    const retained: string[] = [];
    let marked = false;
    client.on('message', (received, payload, packet) => {
      if (received === `${topic}/marker`) marked = true;
      else if (packet.retain) retained.push(payload.toString());
    });
    await client.subscribeAsync([topic, `${topic}/marker`], { qos: 1 });
    await publisher.publishAsync(`${topic}/marker`, 'marker', { qos: 1 });
    await waitFor(() => marked, { timeoutMs: 5000, what: `the marker on ${topic}` });
    return retained;
  }

  it('publishes the retained state and the event; a late subscriber gets the state; forget clears it', async () => {
    const live = await recorder();
    const channel = new MqttAlertChannel(publisher, log.logger);
    expect(channel.wants({ kind: 'forget', device: DEVICE, rule: 'hot' })).toBe(true);
    await channel.deliver(transition(1));
    // deliver resolved on PUBACK: the broker has both; the subscriber gets them shortly after.
    await waitFor(() => live.events.length === 1 && live.states.size === 1, { timeoutMs: 5000, what: 'state and event' });
    expect(live.events[0]?.id).toBe('ev-1');
    expect(live.states.get(`${DEVICE}/hot`)).toMatchObject({ state: 'firing', eventId: 'ev-1' });

    const late = await retainedFor(`alerts/v1/${DEVICE}/hot`);
    expect(late.map((payload) => (JSON.parse(payload) as AlertState).eventId)).toEqual(['ev-1']);

    await channel.deliver({ kind: 'forget', device: DEVICE, rule: 'hot' });
    await waitFor(() => live.states.size === 0, { timeoutMs: 5000, what: 'the empty retained message' });
    expect(await retainedFor(`alerts/v1/${DEVICE}/hot`)).toEqual([]);
    expect(live.events).toHaveLength(1);
    await channel.close();
    expect(publisher.connected).toBe(true);
  });

  it('publishes the state of a silenced transition but not its event', async () => {
    const live = await recorder();
    const channel = new MqttAlertChannel(publisher, log.logger);
    await channel.deliver(transition(1, 'quiet', true));
    await channel.deliver(transition(3, 'loud'));
    await waitFor(() => live.states.size === 2 && live.events.length >= 1, { timeoutMs: 5000, what: 'both states and the loud event' });
    // Published in order on one connection: had the silenced event gone out, it would be first.
    expect(live.events.map((event) => event.id)).toEqual(['ev-3']);
    expect(live.states.get(`${DEVICE}/quiet`)?.eventId).toBe('ev-1');
  });

  it('refuses at once while the broker is down; the dispatcher delivers the backlog in order once it is back', async () => {
    const channel = new MqttAlertChannel(publisher, log.logger, { ackTimeoutMs: 2000 });
    const outbox = new ChannelOutbox(db, channel.name);
    const metrics = new BackendMetrics();
    const retries = { retryMinMs: 20, retryMaxMs: 200, retryForMs: Number.POSITIVE_INFINITY };
    const dispatcher = new Dispatcher({ outbox, channel, ...retries, metrics, log: log.logger });
    closers.push(() => dispatcher.stop());
    dispatcher.start();

    const port = broker.port;
    await broker.stop();
    await waitFor(() => !publisher.connected, { timeoutMs: 5000, what: 'the publisher to notice the broker is gone' });
    const started = Date.now();
    await expect(channel.deliver(transition(1))).rejects.toMatchObject({ code: 'ALERT_DELIVERY_MQTT_OFFLINE' });
    expect(Date.now() - started).toBeLessThan(500);

    const insert = db.prepare(
      `INSERT INTO alert_outbox (channel, item, state, enqueued_at, next_attempt_at) VALUES (?, ?, 'pending', ?, ?)`,
    );
    for (const n of [1, 2, 3]) insert.run(channel.name, JSON.stringify(transition(n, `r${n}`)), Date.now(), Date.now());
    dispatcher.wake();
    await waitFor(() => (outbox.head()?.attempts ?? 0) >= 3, { timeoutMs: 5000, what: 'three refused attempts' });

    // The same port, as a restarted broker would have; the subscriber is in before the publisher
    // comes back (it has no reconnect timer of its own), so no event is published unseen.
    broker = await startTestBroker({ settings: { 'tcp.port': String(port) } });
    const live = await recorder();
    publisher.reconnect();
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 10_000, what: 'the backlog delivered' });
    await waitFor(() => live.events.length === 3, { timeoutMs: 5000, what: 'three events' });
    expect(live.events.map((event) => event.id)).toEqual(['ev-1', 'ev-2', 'ev-3']);
    expect([...live.states.keys()].sort()).toEqual([`${DEVICE}/r1`, `${DEVICE}/r2`, `${DEVICE}/r3`]);
    expect(log.find(/will retry/, { level: 40, eventId: 'ev-1' })[0]?.error).toMatch(/ALERT_DELIVERY_MQTT_OFFLINE/);
  });

  it('publishes an event once when the connection drops while it waits for its PUBACK', async () => {
    // The backend's client as ingest makes it: MQTT.js reconnects by itself and keeps its store
    // of unacknowledged messages across the reconnection (a manual reconnect() would empty it).
    await publisher.endAsync(true);
    publisher = await connectAs(broker.url, USERS.backend, { clean: false, reconnectPeriod: 100 });
    const live = await recorder();
    const channel = new MqttAlertChannel(publisher, log.logger, { ackTimeoutMs: 10_000 });
    const outbox = new ChannelOutbox(db, channel.name);
    const retries = { retryMinMs: 20, retryMaxMs: 200, retryForMs: Number.POSITIVE_INFINITY };
    const dispatcher = new Dispatcher({ outbox, channel, ...retries, metrics: new BackendMetrics(), log: log.logger });
    closers.push(() => dispatcher.stop());

    // The broker takes the event but neither routes nor acknowledges it (aedes does both only once
    // authorizePublish answers): it waits for its PUBACK.
    const { aedes } = broker.broker;
    const authorize = aedes.authorizePublish.bind(aedes);
    const holding: Client[] = [];
    aedes.authorizePublish = (client, packet, done) => {
      if (holding.length > 0 || client === null || packet.topic !== 'alerts/v1/events') authorize(client, packet, done);
      else holding.push(client);
    };
    const insert = db.prepare(
      `INSERT INTO alert_outbox (channel, item, state, enqueued_at, next_attempt_at) VALUES (?, ?, 'pending', ?, ?)`,
    );
    insert.run(channel.name, JSON.stringify(transition(1)), Date.now(), Date.now());
    dispatcher.start();
    await waitFor(() => holding.length === 1, { timeoutMs: 5000, what: 'the event at the broker, unacknowledged' });

    // The connection is cut; the client comes back on its own.
    holding[0]?.conn.destroy();
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 10_000, what: 'the event delivered after the reconnection' });
    // One more event after it on the same connection: once it is in, anything sent before it is too.
    insert.run(channel.name, JSON.stringify(transition(2)), Date.now(), Date.now());
    dispatcher.wake();
    await waitFor(() => live.events.some((event) => event.id === 'ev-2'), { timeoutMs: 5000, what: 'the next event' });
    expect(live.events.map((event) => event.id)).toEqual(['ev-1', 'ev-2']);
  });
});
