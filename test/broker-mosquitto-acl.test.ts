// broker/mosquitto.acl, for plants that run Mosquitto 2 instead of our broker, gives the device
// and backend users the same topic rights as our broker's default roles: checked against a real
// Mosquitto, topic by topic, with rightsFor() on the same topics as the reference. One difference
// is Mosquitto's own: its acl_file grants every SUBSCRIBE and checks read rights on each message
// (src/security_default.c, "FIXME - implement ACL subscription strings"), where ours answers 0x80.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { rightsFor } from '../broker/access/acl.js';
import { loadBrokerConfig } from '../broker/index.js';
import { type SecureMosquitto, startMosquittoWithAuth } from './helpers/mosquitto-auth.js';
import { grants, inbox, trackedClients } from './helpers/mqtt-observe.js';
import { describeWithProgram } from './helpers/require-program.js';
import { type TestUser, USERS, connectAs } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const ACL_FILE = join(import.meta.dirname, '..', 'broker', 'mosquitto.acl');
// Not in the plant's file: a user that reads and writes everything, to send and see what gets through.
const OBSERVER = { username: 'observer', role: 'admin', password: 'pw-observer' } as const satisfies TestUser;
const { acl } = loadBrokerConfig(undefined, {}, { 'auth.allowAnonymous': 'true' });

describeWithProgram('mosquitto', 'mosquitto', 'broker/mosquitto.acl on Mosquitto 2', () => {
  let mosquitto: SecureMosquitto;
  let aclCopy: string;
  const { track, endAll } = trackedClients();

  beforeAll(async () => {
    aclCopy = join(tmpdir(), `mosquitto-acl-${process.pid}-${Date.now()}.acl`);
    await writeFile(aclCopy, `${await readFile(ACL_FILE, 'utf8')}\nuser ${OBSERVER.username}\ntopic readwrite #\n`);
    mosquitto = await startMosquittoWithAuth([USERS.devA, USERS.devB, USERS.backend, OBSERVER], { aclFile: aclCopy });
  });
  afterAll(async () => {
    await mosquitto?.stop();
    await rm(aclCopy, { force: true });
  });
  afterEach(async () => {
    await endAll();
  });

  /** Publishes each topic as `user`, then a marker; returns the topics the observer received. */
  async function published(user: TestUser, topics: string[], marker: string): Promise<string[]> {
    const observer = await track(connectAs(mosquitto.url, OBSERVER));
    const received = inbox(observer);
    expect(await grants(observer, ['#'])).toEqual([1]);
    const client = await track(connectAs(mosquitto.url, user));
    for (const topic of topics) await client.publishAsync(topic, 'x', { qos: 1 }); // Mosquitto PUBACKs refused ones too
    await client.publishAsync(marker, 'end', { qos: 1 });
    await waitFor(() => received.includes(`${marker} end`), { timeoutMs: 5000, what: `${user.username}'s marker` });
    return received.filter((line) => line.endsWith(' x')).map((line) => line.slice(0, -2));
  }

  it('lets a device publish what the device role may, and nothing else (not its own stored topic)', async () => {
    const topics = [
      'telemetry/v1/dev-a/readings',
      'telemetry/v1/dev-a/status',
      'telemetry/v1/dev-a/sensors',
      'telemetry/v1/dev-a/stored',
      'telemetry/v1/dev-a/other',
      'telemetry/v1/dev-b/readings',
      'telemetry/v1/dev-b/stored',
      'cmd/v1/dev-a/read-now/reply',
      'cmd/v1/dev-b/read-now/reply',
      'cmd/v1/dev-a/read-now',
      'alerts/v1/dev-a/high',
      'alerts/v1/events',
    ];
    const device = rightsFor(acl, 'device', 'dev-a');
    expect(await published(USERS.devA, topics, 'telemetry/v1/dev-a/readings')).toEqual(topics.filter((topic) => device.canPublish(topic)));
  });

  it('lets the backend publish what the backend role may, and nothing else', async () => {
    const topics = [
      'telemetry/v1/dev-a/stored',
      'telemetry/v1/dev-a/readings',
      'telemetry/v1/dev-a/status',
      'alerts/v1/dev-a/high',
      'alerts/v1/events',
      'cmd/v1/dev-a/read-now',
      'cmd/v1/dev-a/read-now/reply',
      'other',
    ];
    const backend = rightsFor(acl, 'backend', 'backend');
    expect(await published(USERS.backend, topics, 'alerts/v1/events')).toEqual(topics.filter((topic) => backend.canPublish(topic)));
  });

  it('delivers to each role only what it may read, whatever it subscribes to', async () => {
    const topics = [
      'cmd/v1/dev-a/read-now',
      'cmd/v1/dev-a/read-now/reply',
      'cmd/v1/dev-b/read-now',
      'cmd/v1/dev-b/read-now/reply',
      'telemetry/v1/dev-a/stored',
      'telemetry/v1/dev-b/stored',
      'telemetry/v1/dev-a/readings',
      'telemetry/v1/dev-b/status',
      'alerts/v1/dev-a/high',
      'alerts/v1/events',
      'other',
    ];
    const cases: Array<[TestUser, string]> = [
      [USERS.devA, 'cmd/v1/dev-a/marker'],
      [USERS.backend, 'alerts/v1/events'],
    ];
    const observer = await track(connectAs(mosquitto.url, OBSERVER));
    for (const [user, marker] of cases) {
      const client = await track(connectAs(mosquitto.url, user));
      const received = inbox(client);
      expect(await grants(client, ['#'])).toEqual([1]); // granted by Mosquitto; ours refuses it (0x80) to both
      for (const topic of topics) await observer.publishAsync(topic, 'x', { qos: 1 });
      await observer.publishAsync(marker, 'end', { qos: 1 });
      await waitFor(() => received.includes(`${marker} end`), { timeoutMs: 5000, what: `the marker for ${user.username}` });
      const rights = rightsFor(acl, user.role, user.username);
      const readable = received.filter((line) => line.endsWith(' x')).map((line) => line.slice(0, -2));
      expect(readable, user.username).toEqual(topics.filter((topic) => rights.canReceive(topic)));
    }
  });

  it("delivers the backend's retained stored confirmation to its device only, never a device's own", async () => {
    const devA = await track(connectAs(mosquitto.url, USERS.devA));
    await devA.publishAsync('telemetry/v1/dev-a/stored', 'forged', { qos: 1, retain: true });
    const backend = await track(connectAs(mosquitto.url, USERS.backend));
    const confirmation = JSON.stringify({ v: 1, device: 'dev-a', boot: 'boot-1', below: 1043 });
    await backend.publishAsync('telemetry/v1/dev-b/stored', 'for-b', { qos: 1, retain: true });
    await backend.publishAsync('telemetry/v1/dev-a/stored', confirmation, { qos: 1, retain: true });
    // Subscribing after both: what arrives is what Mosquitto retained and lets dev-a read.
    const received: Array<[string, string, boolean]> = [];
    devA.on('message', (topic, payload, packet) => received.push([topic, payload.toString(), packet.retain]));
    expect(await grants(devA, ['telemetry/v1/dev-a/stored', 'telemetry/v1/dev-b/stored'])).toEqual([1, 1]); // Mosquitto: see the top
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: "dev-a's stored confirmation" });
    // And live: the next confirmation, not retained, follows it.
    await backend.publishAsync('telemetry/v1/dev-a/stored', 'next', { qos: 1 });
    await waitFor(() => received.length > 1, { timeoutMs: 5000, what: 'the next confirmation' });
    expect(received).toEqual([
      ['telemetry/v1/dev-a/stored', confirmation, true],
      ['telemetry/v1/dev-a/stored', 'next', false],
    ]);
  });
});
