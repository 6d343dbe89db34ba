// Deny rules (acl.deny, issue 17) against our broker with real MQTT.js clients: an operator fences
// topics off for every role but admin, over whatever the roles allow. Includes the one case of the
// Eclipse Paho MQTT 3.1.1 interoperability suite (paho.mqtt.testing, interoperability/client_test.py)
// the broker failed before: test_subscribe_failure.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { grants, inbox, trackedClients } from './helpers/mqtt-observe.js';
import { type TestBroker, USERS, connectAs, metricValue, startTestBroker } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

/** nosubscribe_topics[0] of the Paho suite: the broker under test must refuse a SUBSCRIBE to it. */
const PAHO_NOSUBSCRIBE = 'test/nosubscribe';

const CONFIG = {
  // As the Paho suite needs: its clients connect without a user name and use any topic. Our
  // backend role gets every topic too, so what fences these topics off is the deny rules alone.
  auth: { allowAnonymous: true, anonymousRole: 'backend' },
  acl: {
    backend: { publish: ['#'], subscribe: ['#'] },
    deny: {
      // fenced/#: written and read by admin alone. telemetry/v1/dev-b/#: a device taken out of service.
      publish: ['fenced/#', 'telemetry/v1/dev-b/#'],
      subscribe: [PAHO_NOSUBSCRIBE, 'fenced/#'],
    },
  },
};

let server: TestBroker;
const { track, endAll } = trackedClients();
const denied = (kind: string, role: string) => metricValue(server.broker, 'furnace_broker_denied_total', { kind, role });
const dropped = (reason: string) => metricValue(server.broker, 'furnace_broker_messages_dropped_total', { reason });

beforeAll(async () => {
  server = await startTestBroker({ config: CONFIG });
});
afterAll(() => server.stop());
afterEach(async () => {
  await endAll();
});

describe('Paho MQTT 3.1.1 interoperability suite', () => {
  it('test_subscribe_failure: a SUBSCRIBE to test/nosubscribe gets return code 0x80', async () => {
    const before = await denied('subscribe', 'backend');
    // As the suite's client: anonymous, clean session, QoS 2.
    const paho = await track(connectAs(server.url, undefined, { clientId: 'myclientid', clean: true }));
    expect(await grants(paho, [PAHO_NOSUBSCRIBE], 2)).toEqual([0x80]);
    // Each filter of a SUBSCRIBE is answered on its own (MQTT 3.1.1 section 3.9.3): the others are granted.
    expect(await grants(paho, ['TopicA', PAHO_NOSUBSCRIBE, 'test/#'], 2)).toEqual([2, 0x80, 2]);
    expect(paho.connected).toBe(true);
    expect(await denied('subscribe', 'backend')).toBe(before + 2);
    // Logged as a warning once per client, then at debug level.
    expect(server.log.find('subscribe denied', { clientId: 'myclientid', topic: PAHO_NOSUBSCRIBE }).map((line) => line.level)).toEqual([
      40, 20,
    ]);
  });
});

describe('deny rules on SUBSCRIBE and delivery', () => {
  it('refuse every filter that could only match fenced topics, even to a role allowed everything', async () => {
    const backend = await track(connectAs(server.url, USERS.backend));
    expect(await grants(backend, [PAHO_NOSUBSCRIBE, 'fenced/#', 'fenced/+', 'fenced', 'fenced/valve/+'])).toEqual([
      128, 128, 128, 128, 128,
    ]);
    expect(await grants(backend, ['fenced-not', 'test/nosubscribe/more'])).toEqual([1, 1]);
  });

  it('grant a wider filter (test/#, #) but never deliver a fenced topic through it, retained or live; admin gets it', async () => {
    const admin = await track(connectAs(server.url, USERS.admin));
    await admin.publishAsync(PAHO_NOSUBSCRIBE, 'retained-fenced', { qos: 1, retain: true });
    await admin.publishAsync('test/open', 'retained-open', { qos: 1, retain: true });
    const withheldBefore = await dropped('forward_denied');

    const byHash = await track(connectAs(server.url, USERS.backend));
    const byTest = await track(connectAs(server.url, undefined, { clientId: 'anonymous-test' }));
    const [hashInbox, testInbox, adminInbox] = [inbox(byHash), inbox(byTest), inbox(admin)];
    expect(await grants(byHash, ['#'])).toEqual([1]);
    expect(await grants(byTest, ['test/#'])).toEqual([1]);
    expect(await grants(admin, [PAHO_NOSUBSCRIBE])).toEqual([1]); // admin is exempt
    await admin.publishAsync(PAHO_NOSUBSCRIBE, 'live-fenced', { qos: 1 });
    await admin.publishAsync('test/open', 'live-open', { qos: 0 });

    const open = ['test/open retained-open', 'test/open live-open'];
    const testLines = (lines: string[]) => lines.filter((line) => line.startsWith('test/'));
    // Both fenced messages reached the delivery check for both subscribers and were withheld there.
    await waitFor(async () => (await dropped('forward_denied')) >= withheldBefore + 4, {
      timeoutMs: 5000,
      what: 'four withheld deliveries',
    });
    await waitFor(() => open.every((line) => hashInbox.includes(line) && testInbox.includes(line)), {
      timeoutMs: 5000,
      what: 'the open topic on # and test/#',
    });
    expect(testLines(hashInbox).sort()).toEqual([...open].sort());
    expect(testLines(testInbox).sort()).toEqual([...open].sort());
    expect(await dropped('forward_denied')).toBe(withheldBefore + 4);
    await waitFor(() => adminInbox.length >= 2, { timeoutMs: 5000, what: 'the fenced topic for admin' });
    expect(adminInbox.sort()).toEqual([`${PAHO_NOSUBSCRIBE} live-fenced`, `${PAHO_NOSUBSCRIBE} retained-fenced`]);

    // Leaves the shared broker without retained messages.
    await admin.publishAsync(PAHO_NOSUBSCRIBE, '', { qos: 1, retain: true });
    await admin.publishAsync('test/open', '', { qos: 1, retain: true });
  });
});

describe('deny rules on PUBLISH', () => {
  it('drop a PUBLISH to a fenced topic from a role allowed everything: acknowledged, counted, never delivered', async () => {
    const watcher = await track(connectAs(server.url, USERS.admin, { clientId: 'fence-watcher' }));
    const seen = inbox(watcher);
    expect(await grants(watcher, ['fenced/#'])).toEqual([1]);
    const backend = await track(connectAs(server.url, USERS.backend));
    const [deniedBefore, droppedBefore] = [await denied('publish', 'backend'), await dropped('publish_denied')];
    await backend.publishAsync('fenced/valve', 'forged', { qos: 1 }); // PUBACKed all the same [MQTT-3.3.5-2]
    await backend.publishAsync('fenced/valve', 'forged', { qos: 2 });
    await backend.publishAsync('fenced', 'forged', { qos: 1, retain: true });
    const admin = await track(connectAs(server.url, USERS.admin));
    await admin.publishAsync('fenced/valve', 'admin', { qos: 1 });
    await waitFor(() => seen.length > 0, { timeoutMs: 5000, what: "admin's message on the fenced topic" });
    expect(seen).toEqual(['fenced/valve admin']);
    expect(backend.connected).toBe(true);
    expect(await denied('publish', 'backend')).toBe(deniedBefore + 3);
    expect(await dropped('publish_denied')).toBe(droppedBefore + 3);
    // Nor was the retained forgery kept: a new admin subscriber gets nothing retained on it.
    const late = await track(connectAs(server.url, USERS.admin, { clientId: 'fence-late' }));
    const lateInbox = inbox(late);
    expect(await grants(late, ['fenced', 'fenced/marker'])).toEqual([1, 1]);
    await admin.publishAsync('fenced/marker', 'end', { qos: 1 });
    await waitFor(() => lateInbox.length > 0, { timeoutMs: 5000, what: 'the marker' });
    expect(lateInbox).toEqual(['fenced/marker end']);
  });

  it("fence a device off: its readings are dropped and its will is refused at CONNECT (CONNACK 5), another device's go through", async () => {
    const backend = await track(connectAs(server.url, USERS.backend));
    const received = inbox(backend);
    expect(await grants(backend, ['telemetry/v1/#'])).toEqual([1]);
    const [willsBefore, publishesBefore] = [await denied('will', 'device'), await denied('publish', 'device')];
    await expect(
      connectAs(server.url, USERS.devB, {
        will: { topic: 'telemetry/v1/dev-b/status', payload: Buffer.from('offline'), qos: 1, retain: true },
      }),
    ).rejects.toMatchObject({ code: 5 });
    const devB = await track(connectAs(server.url, USERS.devB));
    await devB.publishAsync('telemetry/v1/dev-b/readings', 'fenced', { qos: 1 });
    const devA = await track(connectAs(server.url, USERS.devA));
    await devA.publishAsync('telemetry/v1/dev-a/readings', 'open', { qos: 1 });
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: "dev-a's reading" });
    expect(received).toEqual(['telemetry/v1/dev-a/readings open']);
    expect(await denied('will', 'device')).toBe(willsBefore + 1);
    expect(await denied('publish', 'device')).toBe(publishesBefore + 1);
  });
});
