// Authentication and topic rights against our broker with real MQTT.js clients: one device can
// neither forge nor read another's data, nor confirm its own readings as stored, nor command or
// answer for another device, a viewer publishes nothing, wills obey the same rules, and the
// credentials file is reloaded without a restart.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Command, type CommandReply, filters, parseTopic, topics } from '../contract/index.js';
import { grants, inbox, trackedClients } from './helpers/mqtt-observe.js';
import { type TestBroker, USERS, connectAs, metricValue, startTestBroker, writeUsers } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

let server: TestBroker;
const { track, endAll } = trackedClients();

beforeAll(async () => {
  server = await startTestBroker();
});
afterAll(() => server.stop());
afterEach(async () => {
  await endAll();
});

describe('authentication', () => {
  it('refuses a wrong password and an unknown user with CONNACK 4, anonymous clients with 5', async () => {
    await expect(connectAs(server.url, { ...USERS.devA, password: 'wrong' })).rejects.toMatchObject({ code: 4 });
    await expect(connectAs(server.url, { username: 'mallory', role: 'admin', password: 'x' })).rejects.toMatchObject({ code: 4 });
    await expect(connectAs(server.url, undefined, { clientId: 'anon' })).rejects.toMatchObject({ code: 5 });
    expect(await metricValue(server.broker, 'furnace_broker_connects_total', { result: 'bad_credentials' })).toBeGreaterThanOrEqual(2);
    // Logged once per address and cause, never with the password.
    const refused = server.log.find('connection refused', { reason: 'wrong password' });
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(server.log.lines)).not.toContain('pw-dev-a');
  });

  it('refuses a device whose client id is not its user name (CONNACK 2)', async () => {
    await expect(connectAs(server.url, USERS.devA, { clientId: 'dev-b' })).rejects.toMatchObject({ code: 2 });
    await expect(connectAs(server.url, USERS.devA, { clientId: '' })).rejects.toMatchObject({ code: 2 });
  });
});

describe('topic rights', () => {
  it('drops what device A publishes on device B topics, acknowledged and counted, and keeps A connected', async () => {
    const backend = await track(connectAs(server.url, USERS.backend));
    const received = inbox(backend);
    await backend.subscribeAsync('telemetry/v1/#', { qos: 1 });
    const devA = await track(connectAs(server.url, USERS.devA));
    const before = await metricValue(server.broker, 'furnace_broker_denied_total', { kind: 'publish', role: 'device' });
    await devA.publishAsync('telemetry/v1/dev-b/readings', 'forged', { qos: 1 }); // PUBACKed all the same
    await devA.publishAsync('alerts/v1/dev-b/high', 'forged', { qos: 0 });
    await devA.publishAsync('telemetry/v1/dev-a/readings', 'mine', { qos: 1 });
    // Delivery is in order, so once "mine" is in, the earlier forgery would have been too.
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: "dev-a's own reading" });
    expect(received).toEqual(['telemetry/v1/dev-a/readings mine']);
    expect(devA.connected).toBe(true);
    expect(await metricValue(server.broker, 'furnace_broker_denied_total', { kind: 'publish', role: 'device' })).toBe(before + 2);
    expect(await metricValue(server.broker, 'furnace_broker_messages_dropped_total', { reason: 'publish_denied' })).toBeGreaterThanOrEqual(
      2,
    );
  });

  it("does not let device A subscribe to device B's data or commands (SUBACK 0x80), only to its own commands", async () => {
    const devA = await track(connectAs(server.url, USERS.devA));
    const received = inbox(devA);
    const wanted = ['telemetry/v1/dev-b/readings', 'telemetry/v1/+/readings', 'cmd/v1/dev-b/#', 'cmd/v1/+/read-now', '#', 'cmd/v1/dev-a/+'];
    expect(await grants(devA, wanted)).toEqual([128, 128, 128, 128, 128, 1]);
    const backend = await track(connectAs(server.url, USERS.backend));
    const devB = await track(connectAs(server.url, USERS.devB));
    await devB.publishAsync('telemetry/v1/dev-b/readings', 'b-data', { qos: 1 });
    await backend.publishAsync('cmd/v1/dev-b/read-now', 'for-b', { qos: 1 });
    await backend.publishAsync('cmd/v1/dev-a/read-now', 'for-a', { qos: 1 });
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: 'the command for dev-a' });
    expect(received).toEqual(['cmd/v1/dev-a/read-now for-a']);
  });

  it('lets a viewer read alerts and status but publish nothing', async () => {
    const viewer = await track(connectAs(server.url, USERS.viewer));
    const received = inbox(viewer);
    expect(await grants(viewer, ['alerts/v1/#', 'telemetry/v1/+/status', 'telemetry/v1/+/readings'])).toEqual([1, 1, 128]);
    await viewer.publishAsync('alerts/v1/events', 'fake alert', { qos: 1 });
    await viewer.publishAsync('telemetry/v1/dev-a/status', 'fake status', { qos: 1 });
    await viewer.publishAsync('cmd/v1/dev-a/read-now', 'fake command', { qos: 1 });
    const backend = await track(connectAs(server.url, USERS.backend));
    await backend.publishAsync('alerts/v1/events', 'real alert', { qos: 1 });
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: 'the real alert' });
    expect(received).toEqual(['alerts/v1/events real alert']);
    expect(await metricValue(server.broker, 'furnace_broker_denied_total', { kind: 'publish', role: 'viewer' })).toBe(3);
  });
});

describe('stored confirmations (telemetry/v1/{device}/stored)', () => {
  it('drops what a device publishes on its own stored topic: acknowledged, never delivered, never retained', async () => {
    const backend = await track(connectAs(server.url, USERS.backend));
    const received = inbox(backend);
    expect(await grants(backend, ['telemetry/v1/+/stored', 'telemetry/v1/+/readings'])).toEqual([1, 1]);
    const devA = await track(connectAs(server.url, USERS.devA));
    const ownInbox = inbox(devA);
    expect(await grants(devA, ['telemetry/v1/dev-a/stored'])).toEqual([1]);
    const before = await metricValue(server.broker, 'furnace_broker_denied_total', { kind: 'publish', role: 'device' });
    await devA.publishAsync('telemetry/v1/dev-a/stored', 'forged', { qos: 1, retain: true }); // PUBACKed all the same
    await devA.publishAsync('telemetry/v1/dev-a/readings', 'marker', { qos: 1 });
    // The forgery was handled before "marker" was even sent: had it passed, it would be in already.
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: "dev-a's marker reading" });
    expect(received).toEqual(['telemetry/v1/dev-a/readings marker']);
    expect(await metricValue(server.broker, 'furnace_broker_denied_total', { kind: 'publish', role: 'device' })).toBe(before + 1);
    expect(ownInbox).toEqual([]);
    // Not retained either: subscribing again, dev-a's first message is the backend's.
    await devA.unsubscribeAsync('telemetry/v1/dev-a/stored');
    expect(await grants(devA, ['telemetry/v1/dev-a/stored'])).toEqual([1]);
    await backend.publishAsync('telemetry/v1/dev-a/stored', 'real', { qos: 1 });
    await waitFor(() => ownInbox.length > 0, { timeoutMs: 5000, what: "the backend's stored confirmation" });
    expect(ownInbox).toEqual(['telemetry/v1/dev-a/stored real']);
  });

  it("does not let a device subscribe to another device's stored topic (SUBACK 0x80)", async () => {
    const devA = await track(connectAs(server.url, USERS.devA));
    const received = inbox(devA);
    expect(
      await grants(devA, ['telemetry/v1/dev-b/stored', 'telemetry/v1/+/stored', 'telemetry/v1/dev-a/#', 'telemetry/v1/dev-a/stored']),
    ).toEqual([128, 128, 128, 1]);
    const backend = await track(connectAs(server.url, USERS.backend));
    await backend.publishAsync('telemetry/v1/dev-b/stored', 'for-b', { qos: 1 });
    await backend.publishAsync('telemetry/v1/dev-a/stored', 'for-a', { qos: 1 });
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: "dev-a's stored confirmation" });
    expect(received).toEqual(['telemetry/v1/dev-a/stored for-a']);
  });

  it('lets the backend publish a retained stored confirmation that the device receives, also when it subscribes later', async () => {
    const backend = await track(connectAs(server.url, USERS.backend));
    const confirmation = JSON.stringify({ v: 1, device: 'dev-a', boot: 'boot-1', below: 1043 });
    await backend.publishAsync('telemetry/v1/dev-a/stored', confirmation, { qos: 1, retain: true });
    const devA = await track(connectAs(server.url, USERS.devA));
    const retained = new Promise<[string, string, boolean, number]>((resolve) =>
      devA.once('message', (topic, payload, packet) => resolve([topic, payload.toString(), packet.retain, packet.qos])),
    );
    expect(await grants(devA, ['telemetry/v1/dev-a/stored'])).toEqual([1]);
    expect(await retained).toEqual(['telemetry/v1/dev-a/stored', confirmation, true, 1]);
    await backend.publishAsync('telemetry/v1/dev-a/stored', '', { qos: 1, retain: true }); // leaves the shared broker clean
  });
});

describe('commands (cmd/v1/{device}/{command} and .../reply)', () => {
  const deniedPublishes = (role: string) => metricValue(server.broker, 'furnace_broker_denied_total', { kind: 'publish', role });

  /** An admin client that sees every request and reply that gets through the broker. */
  async function watchCommands(): Promise<string[]> {
    const watcher = await track(connectAs(server.url, USERS.admin, { clientId: 'cmd-watcher' }));
    const seen = inbox(watcher);
    expect(await grants(watcher, ['cmd/v1/#'])).toEqual([1]);
    return seen;
  }

  /** A device connected and subscribed to its own commands, as an agent is. */
  async function deviceOnCommands(user: typeof USERS.devA | typeof USERS.devB): Promise<{ client: MqttClient; received: string[] }> {
    const client = await track(connectAs(server.url, user));
    const received = inbox(client);
    expect(await grants(client, [filters.commandsFor(user.username)])).toEqual([1]);
    return { client, received };
  }

  it('does not let a device command another device, nor send requests to itself', async () => {
    const seen = await watchCommands();
    const devB = await deviceOnCommands(USERS.devB);
    const devA = await deviceOnCommands(USERS.devA);
    const before = await deniedPublishes('device');
    await devA.client.publishAsync(topics.command('dev-b', 'ping'), 'forged by dev-a', { qos: 1 }); // PUBACKed all the same
    await devA.client.publishAsync(topics.command('dev-b', 'set-interval'), 'forged by dev-a', { qos: 0 });
    await devA.client.publishAsync(topics.command('dev-a', 'ping'), 'forged to itself', { qos: 1 });
    // Each forgery was handled before its PUBACK came back: had one passed, it would be in ahead of this.
    const backend = await track(connectAs(server.url, USERS.backend));
    await backend.publishAsync(topics.command('dev-b', 'ping'), 'real', { qos: 1 });
    await waitFor(() => devB.received.length > 0 && seen.length > 0, { timeoutMs: 5000, what: "the backend's command to dev-b" });
    expect(devB.received).toEqual(['cmd/v1/dev-b/ping real']);
    expect(seen).toEqual(['cmd/v1/dev-b/ping real']);
    expect(devA.received).toEqual([]);
    expect(devA.client.connected).toBe(true);
    expect(await deniedPublishes('device')).toBe(before + 3);
  });

  it('does not let a device answer for another device, nor the backend answer for any device', async () => {
    const seen = await watchCommands();
    const backend = await track(connectAs(server.url, USERS.backend));
    const replies = inbox(backend);
    expect(await grants(backend, [filters.allCommandReplies])).toEqual([1]);
    const devA = await track(connectAs(server.url, USERS.devA));
    const devB = await track(connectAs(server.url, USERS.devB));
    const [deviceBefore, backendBefore] = [await deniedPublishes('device'), await deniedPublishes('backend')];
    await devA.publishAsync(topics.commandReply('dev-b', 'ping'), 'forged by dev-a', { qos: 1 });
    await backend.publishAsync(topics.commandReply('dev-a', 'ping'), 'forged by the backend', { qos: 1 });
    await devB.publishAsync(topics.commandReply('dev-b', 'ping'), 'real', { qos: 1 });
    await waitFor(() => replies.length > 0 && seen.length > 0, { timeoutMs: 5000, what: "dev-b's reply" });
    expect(replies).toEqual(['cmd/v1/dev-b/ping/reply real']);
    expect(seen).toEqual(['cmd/v1/dev-b/ping/reply real']);
    expect([await deniedPublishes('device'), await deniedPublishes('backend')]).toEqual([deviceBefore + 1, backendBefore + 1]);
  });

  it("does not let a device read another device's commands, nor any replies, its own included (SUBACK 0x80)", async () => {
    const devA = await track(connectAs(server.url, USERS.devA));
    const received = inbox(devA);
    const refused = [
      'cmd/v1/dev-b/+',
      'cmd/v1/dev-b/ping',
      'cmd/v1/dev-b/#',
      'cmd/v1/+/ping',
      'cmd/v1/+/+',
      'cmd/v1/#',
      filters.allCommandReplies,
      'cmd/v1/dev-b/ping/reply',
      'cmd/v1/dev-a/#',
      'cmd/v1/dev-a/+/reply',
    ];
    expect(await grants(devA, [...refused, filters.commandsFor('dev-a')])).toEqual([...refused.map(() => 128), 1]);
    expect(await grants(devA, ['cmd/v1/dev-a/ping'])).toEqual([1]); // one of its own commands alone
    const backend = await track(connectAs(server.url, USERS.backend));
    const devB = await track(connectAs(server.url, USERS.devB));
    await backend.publishAsync(topics.command('dev-b', 'ping'), 'for-b', { qos: 1 });
    await devB.publishAsync(topics.commandReply('dev-b', 'ping'), 'from-b', { qos: 1 });
    await devA.publishAsync(topics.commandReply('dev-a', 'ping'), 'own reply', { qos: 1 });
    await backend.publishAsync(topics.command('dev-a', 'read-now'), 'for-a', { qos: 1 });
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: 'the command for dev-a' });
    expect(received).toEqual(['cmd/v1/dev-a/read-now for-a']);
  });

  it('does not let a viewer send or read commands or replies', async () => {
    const viewer = await track(connectAs(server.url, USERS.viewer));
    const viewerInbox = inbox(viewer);
    expect(await grants(viewer, ['cmd/v1/#', filters.allCommandReplies, 'cmd/v1/dev-a/+'])).toEqual([128, 128, 128]);
    const devA = await deviceOnCommands(USERS.devA);
    const backend = await track(connectAs(server.url, USERS.backend));
    const replies = inbox(backend);
    expect(await grants(backend, [filters.allCommandReplies])).toEqual([1]);
    const before = await deniedPublishes('viewer');
    await viewer.publishAsync(topics.command('dev-a', 'set-interval'), 'from the viewer', { qos: 1 });
    await viewer.publishAsync(topics.commandReply('dev-a', 'set-interval'), 'from the viewer', { qos: 1 });
    await backend.publishAsync(topics.command('dev-a', 'ping'), 'real', { qos: 1 });
    await devA.client.publishAsync(topics.commandReply('dev-a', 'ping'), 'real', { qos: 1 });
    await waitFor(() => devA.received.length > 0 && replies.length > 0, { timeoutMs: 5000, what: 'the real request and reply' });
    expect(devA.received).toEqual(['cmd/v1/dev-a/ping real']);
    expect(replies).toEqual(['cmd/v1/dev-a/ping/reply real']);
    expect(viewerInbox).toEqual([]);
    expect(await deniedPublishes('viewer')).toBe(before + 2);
  });

  it('lets the backend and an admin command a device and receive its reply', async () => {
    const devA = await deviceOnCommands(USERS.devA);
    // An agent in miniature: answers every request on the reply topic, with its requestId.
    devA.client.on('message', (topic, payload) => {
      const parsed = parseTopic(topic);
      if (parsed?.kind !== 'command') return;
      const request = JSON.parse(payload.toString()) as Command;
      const reply: CommandReply = {
        v: 1,
        requestId: request.requestId,
        command: parsed.command,
        outcome: 'ok',
        data: { from: 'dev-a' },
        ts: Date.now(),
      };
      devA.client.publish(topics.commandReply(parsed.device, parsed.command), JSON.stringify(reply), { qos: 1 });
    });
    for (const user of [USERS.backend, USERS.admin]) {
      const requester = await track(connectAs(server.url, user, { clientId: `requester-${user.username}` }));
      const replies = inbox(requester);
      expect(await grants(requester, [filters.allCommandReplies])).toEqual([1]);
      const request: Command = { v: 1, requestId: `req-${user.username}`, deadline: Date.now() + 5000, requester: user.username };
      await requester.publishAsync(topics.command('dev-a', 'ping'), JSON.stringify(request), { qos: 1 });
      await waitFor(() => replies.length > 0, { timeoutMs: 5000, what: `dev-a's reply to ${user.username}` });
      const [line] = replies;
      expect(line?.startsWith('cmd/v1/dev-a/ping/reply ')).toBe(true);
      expect(JSON.parse(line?.slice('cmd/v1/dev-a/ping/reply '.length) ?? '')).toMatchObject({
        requestId: request.requestId,
        outcome: 'ok',
        data: { from: 'dev-a' },
      });
    }
    expect(devA.received.map((line) => line.split(' ')[0])).toEqual(['cmd/v1/dev-a/ping', 'cmd/v1/dev-a/ping']);
  });
});

describe('wills', () => {
  it("refuses a device whose will names another device's topic (CONNACK 5): the forged will is never delivered", async () => {
    const backend = await track(connectAs(server.url, USERS.backend));
    const received = inbox(backend);
    await backend.subscribeAsync('telemetry/v1/+/status', { qos: 1 });
    await expect(
      connectAs(server.url, USERS.devA, {
        will: { topic: 'telemetry/v1/dev-b/status', payload: Buffer.from('offline'), qos: 1, retain: true },
      }),
    ).rejects.toMatchObject({ code: 5 });
    expect(await metricValue(server.broker, 'furnace_broker_denied_total', { kind: 'will', role: 'device' })).toBe(1);
    // Its own will is delivered when it drops off without DISCONNECT.
    const devA = await connectAs(server.url, USERS.devA, {
      will: { topic: 'telemetry/v1/dev-a/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    devA.stream.destroy();
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: "dev-a's will" });
    expect(received).toEqual(['telemetry/v1/dev-a/status offline']);
  });
});

describe('credentials reload', () => {
  it('picks up a changed file by itself and disconnects clients whose entry went', async () => {
    const newcomer = { username: 'dev-c', role: 'device', password: 'pw-dev-c' } as const;
    await expect(connectAs(server.url, newcomer)).rejects.toMatchObject({ code: 4 });
    await writeUsers(server.passwordFile, [...Object.values(USERS), newcomer]);
    const devC = await track(
      waitFor(() => connectAs(server.url, newcomer).catch(() => undefined), { timeoutMs: 5000, what: 'dev-c to be accepted' }),
    );
    const closed = new Promise<void>((resolve) => devC.once('close', () => resolve()));
    await writeUsers(server.passwordFile, Object.values(USERS));
    await closed;
    await expect(connectAs(server.url, newcomer)).rejects.toMatchObject({ code: 4 });
    expect(server.log.find('credentials changed or removed: client disconnected', { username: 'dev-c' })).toHaveLength(1);
  });

  it('keeps the previous credentials when the file turns invalid, and reloads on request (SIGHUP)', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(server.passwordFile, 'admin:admin:plain-text\n');
    await server.broker.reloadCredentials();
    expect(await metricValue(server.broker, 'furnace_broker_credentials_reloads_total', { result: 'failed' })).toBeGreaterThanOrEqual(1);
    const admin = await track(connectAs(server.url, USERS.admin));
    expect(admin.connected).toBe(true);
    await writeUsers(server.passwordFile, Object.values(USERS));
    await server.broker.reloadCredentials();
  });
});
