// Persistent sessions on the Redis persistence (issue 13): a client with clean session off that
// subscribes to several filters in one SUBSCRIBE gets its SUBACK, on a fresh session, on a kept
// one and after Redis lost the session, and then receives what is published on those filters.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { grants, trackedClients } from './helpers/mqtt-observe.js';
import { type Redis, redisCommand, startRedis } from './helpers/redis.js';
import { describeWithProgram } from './helpers/require-program.js';
import { type TestBroker, type TestUser, USERS, connectAs, startTestBroker } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const FILTERS = ['telemetry/v1/+/readings', 'telemetry/v1/+/status', 'telemetry/v1/+/sensors'];

describeWithProgram('redis-server', 'redis-server', 'persistent sessions on Redis', () => {
  let redis: Redis;
  let server: TestBroker;
  const { track, endAll } = trackedClients();

  beforeAll(async () => {
    redis = await startRedis();
    server = await startTestBroker({ settings: { 'persistence.backend': 'redis', 'persistence.redisUrl': redis.url } });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });
  afterEach(async () => {
    await endAll();
  });

  /** Connects with clean session off as `clientId`, and records the messages it receives. */
  async function persistent(user: TestUser, clientId: string) {
    const client = await track(connectAs(server.url, user, { clientId, clean: false }));
    const received: string[] = [];
    client.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    return { client, received };
  }

  /** dev-a publishes on each of its three topics; `received` must get all three. */
  async function expectDelivery(received: string[], tag: string) {
    const devA = await track(connectAs(server.url, USERS.devA));
    const sent = ['readings', 'status', 'sensors'].map((kind) => `telemetry/v1/dev-a/${kind} ${tag}`);
    for (const line of sent) {
      const [topic = '', payload = ''] = line.split(' ');
      await devA.publishAsync(topic, payload, { qos: 1 });
    }
    await waitFor(() => received.length >= sent.length, { timeoutMs: 5000, what: `the three ${tag} messages` });
    expect(received.filter((line) => line.endsWith(` ${tag}`)).sort()).toEqual([...sent].sort());
    await devA.endAsync();
  }

  it('answers a SUBSCRIBE of three filters on a new persistent session, then delivers', async () => {
    const { client, received } = await persistent(USERS.backend, 'backend-fresh');
    expect(await grants(client, FILTERS)).toEqual([1, 1, 1]);
    await expectDelivery(received, 'fresh');
  });

  it('answers it again on the session kept in Redis, and after Redis lost the session', async () => {
    const first = await persistent(USERS.backend, 'backend-kept');
    expect(await grants(first.client, FILTERS)).toEqual([1, 1, 1]);
    await first.client.endAsync();

    const kept = await persistent(USERS.backend, 'backend-kept');
    expect(await grants(kept.client, FILTERS)).toEqual([1, 1, 1]);
    await expectDelivery(kept.received, 'kept');
    await kept.client.endAsync();

    expect(await redisCommand(redis.port, ['FLUSHALL'])).toBe('+OK\r\n');
    const lost = await persistent(USERS.backend, 'backend-kept');
    expect(await grants(lost.client, FILTERS)).toEqual([1, 1, 1]);
    await expectDelivery(lost.received, 'after-flush');
  });

  it('answers two one-filter SUBSCRIBE packets for the same filter sent together', async () => {
    const { client, received } = await persistent(USERS.backend, 'backend-twice');
    const filter = FILTERS[0] ?? '';
    expect(await Promise.all([grants(client, [filter]), grants(client, [filter])])).toEqual([[1], [1]]);
    const devA = await track(connectAs(server.url, USERS.devA));
    await devA.publishAsync('telemetry/v1/dev-a/readings', 'twice', { qos: 1 });
    await waitFor(() => received.length > 0, { timeoutMs: 5000, what: 'the reading' });
    expect(received).toEqual(['telemetry/v1/dev-a/readings twice']);
  });

  it('keeps in the session only the filters the client was granted', async () => {
    const { client } = await persistent(USERS.devA, 'dev-a');
    expect(await grants(client, ['cmd/v1/dev-a/+', 'cmd/v1/dev-b/+', 'telemetry/v1/#'])).toEqual([1, 128, 128]);
    const persistence = (
      server.broker.aedes as unknown as {
        persistence: { subscriptionsByClient(client: { id: string }): Promise<Array<{ topic: string }>> };
      }
    ).persistence;
    const stored = await persistence.subscriptionsByClient({ id: 'dev-a' });
    expect(stored.map((sub) => sub.topic)).toEqual(['cmd/v1/dev-a/+']);
  });
});
