// Commands through the HTTP API, over our broker (ACLs on) to an MQTT.js client playing the
// agent, and back: replies of every outcome, timeouts, offline and unknown devices, bad
// arguments, the in-flight bounds, scopes, stray replies. One backend for the file; each test
// leaves no command waiting.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiPost } from './helpers/api-post.js';
import { ADMIN_TOKEN, READ_TOKEN, apiGet } from './helpers/backend-http.js';
import { CommandAgent, type ReceivedCommand } from './helpers/command-agent.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';
import { type TestBroker, USERS, connectAs, startTestBroker } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = USERS.devA.username;
const OTHER = USERS.devB.username;
const path = (command: string, device: string = DEVICE) => `/api/v1/devices/${device}/commands/${command}`;

let broker: TestBroker;
let backend: TestBackend;
let base: string;
/** Every command the broker delivers, whoever it is for: "nothing was published" is checked against it. */
let watcher: MqttClient;
const published: string[] = [];
let agent: CommandAgent;

/** One sample of a metric; `sample` picks one series of a histogram (its `_count`, say). */
async function metric(name: string, labels: Record<string, string> = {}, sample = name): Promise<number> {
  const values = (await backend.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  const matches = (value: (typeof values)[number]) =>
    ((value as { metricName?: string }).metricName ?? name) === sample &&
    Object.entries(labels).every(([key, label]) => String(value.labels[key]) === label);
  return values.find(matches)?.value ?? 0;
}

/** How much a metric grows from now on: the backend is shared by the tests of this file. */
async function growth(name: string, labels: Record<string, string> = {}, sample = name): Promise<() => Promise<number>> {
  const start = await metric(name, labels, sample);
  return async () => (await metric(name, labels, sample)) - start;
}

async function deviceState(device: string): Promise<string | undefined> {
  const { body } = await apiGet<{ status?: { state: string } | null }>(base, `/api/v1/devices/${device}`);
  return body.status?.state;
}

async function connectAgent(user: typeof USERS.devA | typeof USERS.devB): Promise<CommandAgent> {
  const connected = await CommandAgent.connect(broker.url, user);
  await waitFor(async () => (await deviceState(user.username)) === 'online', {
    timeoutMs: 5000,
    what: `${user.username} online in the registry`,
  });
  return connected;
}

/** Asserts that the next command the broker delivers, from now on, is the one `send` makes: nothing went out before it. */
async function nextPublishedIs(send: () => Promise<unknown>, topic: string): Promise<void> {
  const mark = published.length;
  await send();
  await waitFor(() => published.length > mark, { timeoutMs: 5000, what: 'a command on the broker' });
  expect(published[mark]).toBe(topic);
}

beforeAll(async () => {
  broker = await startTestBroker();
  backend = await startTestBackend({
    mqttUrl: broker.url,
    settings: {
      mqtt: { username: USERS.backend.username, password: USERS.backend.password },
      commands: { defaultTimeoutMs: 1500, maxTimeoutMs: 5000, maxInFlightPerDevice: 2, maxInFlight: 3, fillGapsAfterMs: 0 },
      alerts: { mqtt: false },
    },
    flags: { 'mqtt.clientId': USERS.backend.username },
  });
  base = backend.base;
  watcher = await connectAs(broker.url, USERS.admin);
  watcher.on('message', (topic) => void published.push(topic));
  await watcher.subscribeAsync('cmd/v1/+/+', { qos: 1 });
  await waitFor(() => backend.ingest.commandsProblem === undefined, {
    timeoutMs: 5000,
    what: 'the backend subscribed, command replies included',
  });
});
afterAll(async () => {
  await watcher.endAsync();
  await backend.close();
  await broker.stop();
});
beforeEach(async () => {
  agent = await connectAgent(USERS.devA);
});
afterEach(async () => {
  await agent.end();
});

describe('commands answered by the agent', () => {
  it('sends read-now QoS 1, not retained, with a requestId, deadline and requester, and answers 200 with the reply', async () => {
    // As the agent's read-now answers (agent/commands/read-now.ts): the reading, flat, with the sensor's state.
    const reading = {
      sensor: 'tc1',
      seq: 7,
      ts: Date.now(),
      value: 812.5,
      unit: 'C',
      quality: 'good',
      clock: 'synced',
      stored: true,
      state: 'ok',
    };
    agent.answer = () => ({ outcome: 'ok', data: reading });
    const ok = await growth('furnace_backend_commands_total', { command: 'read-now', outcome: 'ok' });
    const histogram = 'furnace_backend_command_round_trip_seconds';
    const roundTrips = await growth(histogram, { command: 'read-now' }, `${histogram}_count`);
    const before = Date.now();
    const answer = await apiPost<Record<string, unknown>>(base, path('read-now'), { args: { sensor: 'tc1' }, timeoutMs: 2000 });
    const after = Date.now();
    expect(answer.status).toBe(200);
    const [received] = agent.received as [ReceivedCommand];
    expect(received).toMatchObject({
      command: 'read-now',
      qos: 1,
      retain: false,
      request: { v: 1, requester: 'dashboard', args: { sensor: 'tc1' } },
    });
    expect(received.request.deadline).toBeGreaterThanOrEqual(before + 2000);
    expect(received.request.deadline).toBeLessThanOrEqual(after + 2000);
    expect(answer.body).toEqual({
      outcome: 'ok',
      data: reading,
      requestId: received.request.requestId,
      ts: expect.any(Number) as number,
      latencyMs: expect.any(Number) as number,
    });
    expect(answer.body.latencyMs as number).toBeLessThan(1000);
    expect(await ok()).toBe(1);
    expect(await roundTrips()).toBe(1);
  });

  it('answers a request without a body with the default timeout, and ids never repeat', async () => {
    const first = await apiPost<{ requestId: string }>(base, path('ping'), undefined);
    const second = await apiPost<{ requestId: string }>(base, path('ping'), {});
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.body.requestId).not.toBe(second.body.requestId);
    const [received] = agent.received as [ReceivedCommand];
    expect(received.request.deadline - received.receivedAt).toBeGreaterThan(1000); // defaultTimeoutMs is 1500
  });

  it('answers 200 with a refused or failed reply, code and reason included', async () => {
    agent.answer = ({ command }) =>
      command === 'read-now'
        ? { outcome: 'refused', code: 'AGENT_COMMAND_BAD_ARGS', reason: 'argument sensor: no sensor "tc9" on this agent (it has tc1)' }
        : { outcome: 'failed', code: 'AGENT_COMMAND_TIMED_OUT', reason: 'no reading of tc1 came (sensor stalled)' };
    const refusals = await growth('furnace_backend_commands_total', { command: 'read-now', outcome: 'refused' });
    const failures = await growth('furnace_backend_commands_total', { command: 'outbox', outcome: 'failed' });
    const refused = await apiPost(base, path('read-now'), { args: { sensor: 'tc9' } });
    expect(refused).toMatchObject({
      status: 200,
      body: { outcome: 'refused', code: 'AGENT_COMMAND_BAD_ARGS', reason: 'argument sensor: no sensor "tc9" on this agent (it has tc1)' },
    });
    const failed = await apiPost(base, path('outbox'), {});
    expect(failed).toMatchObject({ status: 200, body: { outcome: 'failed', code: 'AGENT_COMMAND_TIMED_OUT' } });
    expect([await refusals(), await failures()]).toEqual([1, 1]);
  });
});

describe('commands the agent does not answer in time', () => {
  it('answers 504 within the timeout (± a margin) while other calls answer at once, then counts and drops the late reply', async () => {
    agent.answer = () => undefined;
    const timeouts = await growth('furnace_backend_commands_total', { command: 'ping', outcome: 'timeout' });
    const late = await growth('furnace_backend_command_replies_late_total');
    const unknown = await growth('furnace_backend_command_replies_unknown_total');
    const timeoutMs = 2000;
    let settled = false;
    const waiting = apiPost<{ code: string }>(base, path('ping'), { timeoutMs }).finally(() => (settled = true));
    const received = await agent.nextRequest();
    // The API is not held up meanwhile: the other calls are answered while the command still waits
    // (bounds with room for a loaded 2-core machine, judged against the command's own timeout).
    for (let i = 0; i < 5; i++) {
      const other = await apiGet(base, `/api/v1/devices/${DEVICE}`);
      expect(other.status).toBe(200);
      expect(other.ms).toBeLessThan(1000);
    }
    expect(settled).toBe(false);
    const answer = await waiting;
    expect(answer).toMatchObject({ status: 504, body: { code: 'API_DEVICE_TIMEOUT' } });
    expect(answer.ms).toBeGreaterThanOrEqual(timeoutMs - 20);
    expect(answer.ms).toBeLessThan(timeoutMs + 1000);
    expect(await timeouts()).toBe(1);

    await agent.reply(received, { outcome: 'ok' });
    await waitFor(async () => (await late()) === 1, { timeoutMs: 5000, what: 'the late reply counted' });
    expect(await unknown()).toBe(0);
    expect(await metric('furnace_backend_commands_in_flight')).toBe(0);
  });

  it('refuses past the in-flight bounds with 429 at once, per device and in all, and takes commands again once answered', async () => {
    const busyCount = await growth('furnace_backend_commands_total', { command: 'ping', outcome: 'busy' });
    const held: ReceivedCommand[] = [];
    agent.answer = (received) => void held.push(received);
    const other = await connectAgent(USERS.devB);
    try {
      other.answer = () => undefined;
      const waiting = [apiPost(base, path('ping'), { timeoutMs: 5000 }), apiPost(base, path('ping'), { timeoutMs: 5000 })];
      await waitFor(() => held.length === 2, { timeoutMs: 5000, what: 'two pings at the agent' });
      const busy = await apiPost<{ code: string; message: string }>(base, path('ping'), {});
      expect(busy).toMatchObject({
        status: 429,
        body: { code: 'API_DEVICE_BUSY', message: expect.stringMatching(/2 commands to dev-a/) as string },
      });
      expect(busy.ms).toBeLessThan(1000); // at once: not after the waiting pings' 5 s
      // commands.maxInFlight is 3: one to the other device fits, a second does not.
      const third = apiPost(base, path('ping', OTHER), { timeoutMs: 600 });
      await other.nextRequest();
      expect(await apiPost(base, path('ping', OTHER), {})).toMatchObject({ status: 429, body: { code: 'API_DEVICE_BUSY' } });
      expect(await busyCount()).toBe(2);

      for (const received of held) await agent.reply(received, { outcome: 'ok' });
      expect((await Promise.all(waiting)).map((answer) => answer.status)).toEqual([200, 200]);
      expect((await third).status).toBe(504);
      agent.answer = () => ({ outcome: 'ok' });
      expect((await apiPost(base, path('ping'), {})).status).toBe(200);
    } finally {
      await other.end();
    }
  });
});

describe('commands refused before anything is sent', () => {
  it('answers 409 at once for a device the registry says is offline, with the time it went offline', async () => {
    const offline = await growth('furnace_backend_commands_total', { command: 'ping', outcome: 'offline' });
    await agent.status('offline');
    await waitFor(async () => (await deviceState(DEVICE)) === 'offline', { timeoutMs: 5000, what: 'the device offline' });
    const before = agent.received.length;
    const answer = await apiPost<{ code: string; offlineSince: number; message: string }>(base, path('ping'), {});
    expect(answer).toMatchObject({
      status: 409,
      body: { code: 'API_DEVICE_OFFLINE', message: expect.stringMatching(/offline since \d{4}-/) as string },
    });
    expect(answer.ms).toBeLessThan(1000); // at once: nothing is sent, nothing waited for (the default timeout is 1500 ms)
    expect(answer.body.offlineSince).toBeGreaterThan(Date.now() - 10_000);
    expect(await offline()).toBe(1);
    await agent.status('online');
    await waitFor(async () => (await deviceState(DEVICE)) === 'online', { timeoutMs: 5000, what: 'the device online again' });
    await nextPublishedIs(() => apiPost(base, path('ping'), {}), `cmd/v1/${DEVICE}/ping`);
    expect(agent.received.length).toBe(before + 1);
  });

  it('answers 404 for an unknown device or command, and 400 naming the argument at fault, sending nothing', async () => {
    expect(await apiPost(base, path('ping', 'furnace-nobody'), {})).toMatchObject({ status: 404, body: { code: 'API_DEVICE_NOT_FOUND' } });
    expect(await apiPost(base, path('reboot'), {})).toMatchObject({
      status: 404,
      body: {
        code: 'API_COMMAND_UNKNOWN',
        message: expect.stringMatching(/"reboot" is not a command; the commands are read-now, set-interval/) as string,
      },
    });
    const bad: Array<[unknown, RegExp]> = [
      [{ args: { sensor: 'tc1', intervalMs: 5 } }, /^args\.intervalMs: must be >= 10/],
      [{ args: { intervalMs: 500 } }, /^args: must have required property 'sensor'/],
      [{ args: { sensor: 'tc1', intervalMs: 500, persist: true } }, /^args: unknown parameter "persist"/],
      [{ args: { sensor: 'tc 1', intervalMs: 500 } }, /^args\.sensor: must match pattern/],
      [{ args: { sensor: 'tc1', intervalMs: 500 }, timeoutMs: 60_000 }, /^timeoutMs: must be <= 5000/],
      [{ args: { sensor: 'tc1', intervalMs: 500 }, retries: 3 }, /^body: unknown parameter "retries"/],
      [[1, 2], /^body: must be object/],
    ];
    for (const [body, message] of bad) {
      const answer = await apiPost<{ code: string; message: string }>(base, path('set-interval'), body, ADMIN_TOKEN);
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({ body, status: 400, code: 'API_BAD_REQUEST' });
      expect(answer.body.message).toMatch(message);
    }
    await nextPublishedIs(
      () => apiPost(base, path('set-interval'), { args: { sensor: 'tc1', intervalMs: 500 } }, ADMIN_TOKEN),
      `cmd/v1/${DEVICE}/set-interval`,
    );
    expect(agent.received.map((received) => received.request.args)).toEqual([{ sensor: 'tc1', intervalMs: 500 }]);
  });

  it('asks for a token (401), the admin scope for commands that change something (403), and passes the token name on', async () => {
    expect(await apiPost(base, path('ping'), {}, null)).toMatchObject({ status: 401, body: { code: 'API_UNAUTHORIZED' } });
    for (const command of ['set-interval', 'resend', 'announce']) {
      expect(await apiPost(base, path(command), {}, READ_TOKEN)).toMatchObject({ status: 403, body: { code: 'API_FORBIDDEN' } });
    }
    for (const command of ['read-now', 'outbox', 'ping']) expect((await apiPost(base, path(command), {}, READ_TOKEN)).status).toBe(200);
    expect((await apiPost(base, path('announce'), {}, ADMIN_TOKEN)).status).toBe(200);
    expect(agent.received.map(({ command, request }) => [command, request.requester])).toEqual([
      ['read-now', 'dashboard'],
      ['outbox', 'dashboard'],
      ['ping', 'dashboard'],
      ['announce', 'operator'],
    ]);
  });
});

describe('replies that answer nothing', () => {
  it('drops a reply from another device or on another command topic, and a malformed one, counting each', async () => {
    const unknown = await growth('furnace_backend_command_replies_unknown_total');
    const [schema, notJson, unknownTopic] = await Promise.all(
      ['schema', 'not_json', 'unknown_topic'].map((cause) => growth('furnace_backend_payloads_rejected_total', { cause })),
    );
    const other = await connectAgent(USERS.devB);
    try {
      agent.answer = () => undefined;
      const waiting = apiPost<{ outcome: string; data: unknown }>(base, path('ping'), { timeoutMs: 5000 });
      const received = await agent.nextRequest();
      // dev-b answers for dev-a, on its own reply topic (the ACL lets it publish nothing else).
      await other.reply(received, { outcome: 'ok', data: { spoofed: true } });
      await agent.reply({ command: 'outbox', request: received.request }, { outcome: 'ok', data: { wrongTopic: true } });
      await agent.client.publishAsync(`cmd/v1/${DEVICE}/ping/reply`, 'not json', { qos: 1 });
      await agent.client.publishAsync(`cmd/v1/${DEVICE}/ping/reply`, JSON.stringify({ v: 1, requestId: received.request.requestId }), {
        qos: 1,
      });
      await waitFor(async () => (await unknown()) === 2, { timeoutMs: 5000, what: 'two stray replies counted' });
      await waitFor(async () => (await schema?.()) === 1, { timeoutMs: 5000, what: 'the malformed reply counted' });
      expect([await notJson?.(), await unknownTopic?.()]).toEqual([1, 0]);
      await agent.reply(received, { outcome: 'ok', data: { real: true } });
      expect(await waiting).toMatchObject({ status: 200, body: { outcome: 'ok', data: { real: true } } });
    } finally {
      await other.end();
    }
  });
});

describe('the OpenAPI document', () => {
  it('describes each command with its scope, arguments and examples, and the offline time of a 409', async () => {
    const { body } = await apiGet<{ paths: Record<string, { post: Record<string, unknown> }> }>(base, '/api/v1/openapi.json', null);
    const commandPaths = Object.keys(body.paths).filter((key) => key.includes('/commands/'));
    expect(commandPaths.sort()).toEqual(
      ['announce', 'outbox', 'ping', 'read-now', 'resend', 'set-interval'].map((name) => `/api/v1/devices/{device}/commands/${name}`),
    );
    const post = body.paths['/api/v1/devices/{device}/commands/set-interval']?.post as {
      summary: string;
      description: string;
      requestBody: {
        content: {
          'application/json': { schema: { properties: { args: { required: string[] } } }; examples: Record<string, { value: unknown }> };
        };
      };
      responses: Record<
        string,
        { content: { 'application/json': { schema: { properties: Record<string, unknown> }; examples?: Record<string, unknown> } } }
      >;
    };
    expect(post.summary).toMatch(/admin scope/);
    expect(post.description).toMatch(/refused, not queued/);
    const media = post.requestBody.content['application/json'];
    expect(media.schema.properties.args.required).toEqual(['sensor', 'intervalMs']);
    expect(media.examples['set-interval']?.value).toEqual({ args: { sensor: 'tc1', intervalMs: 500 } });
    expect(Object.keys(post.responses['200']?.content['application/json'].examples ?? {})).toEqual(['ok', 'refused']);
    expect(post.responses['409']?.content['application/json'].schema.properties).toHaveProperty('offlineSince');
    expect(Object.keys(post.responses).sort()).toEqual(['200', '400', '401', '403', '404', '409', '429', '503', '504']);
  });
});
