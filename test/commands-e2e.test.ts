// Commands end to end, with real processes: furnace-broker, the backend (SQLite) and an agent
// reading the emulator through a socat PTY, started and signalled by the test (the fault suite's
// stack); and ten in-process agents for the concurrency case. Observed through the HTTP API, the
// store and MQTT, as an operator would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CommandReply, decodeCommandReply, encodePayload, topics } from '../contract/index.js';
import { type InProcessPair, startInProcessPair } from '../stack/in-process-pair.js';
import { type StackUsers, stackUsers, writeBrokerUsers } from './faults/brokers.js';
import { agentMetrics } from './faults/probes.js';
import { DEVICE, FaultStack } from './faults/stack.js';
import { apiPost } from './helpers/api-post.js';
import { apiGet } from './helpers/backend-http.js';
import { startCli } from './helpers/cli.js';
import { freePorts } from './helpers/free-port.js';
import { stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { waitFor } from './helpers/wait-for.js';

interface ReplyBody extends Omit<CommandReply, 'v'> {
  latencyMs: number;
}

const command = (base: string, device: string, name: string, body: unknown = {}) =>
  apiPost<ReplyBody & { code?: string; message?: string }>(base, `/api/v1/devices/${device}/commands/${name}`, body, null);

describeWithProgram('socat', 'socat', 'commands through real processes', () => {
  let dir: string;
  let users: StackUsers & { file: string };
  let stack: FaultStack | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'test-commands-'));
    users = { ...stackUsers(DEVICE), file: join(dir, 'broker-users') };
    await writeBrokerUsers(users.file, users);
  });
  afterEach(async () => {
    await stack?.dispose();
    stack = undefined;
    await stopAllProcesses();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const up = async () => {
    const started = (stack = new FaultStack(users));
    await started.start();
    // The agent listens for commands once subscribed; until then a request would be lost (clean session).
    await waitFor(async () => (await command(started.apiUrl, DEVICE, 'ping')).body.outcome === 'ok', {
      timeoutMs: 15_000,
      intervalMs: 200,
      what: 'the agent to answer a ping',
    });
    return started;
  };

  it('read-now returns a fresh reading within a second, stored as usual; set-interval changes the rate stored', async () => {
    const s = await up();
    const asked = Date.now();
    const answer = await command(s.apiUrl, DEVICE, 'read-now', { args: { sensor: 'tc1' }, timeoutMs: 2000 });
    expect(answer.status).toBe(200);
    expect(answer.body.outcome).toBe('ok');
    expect(answer.ms).toBeLessThan(1000);
    const reading = answer.body.data as { seq: number; ts: number; value: number; unit: string };
    expect(reading.ts).toBeGreaterThanOrEqual(asked - 200);
    await waitFor(() => s.stored().has(reading.seq), { timeoutMs: 5000, what: `seq ${reading.seq} of read-now stored` });

    const ratePerSecond = async () => {
      const before = s.stored().size;
      const started = Date.now();
      await waitFor(() => Date.now() - started >= 3000, { timeoutMs: 4000, intervalMs: 100, what: 'a 3 s window' }); // the window is the measurement
      return ((s.stored().size - before) * 1000) / (Date.now() - started);
    };
    const fast = await ratePerSecond();
    const set = await command(s.apiUrl, DEVICE, 'set-interval', { args: { sensor: 'tc1', intervalMs: 500 } });
    expect(set.body).toMatchObject({ outcome: 'ok', data: { intervalMs: 500, persisted: false } });
    await ratePerSecond(); // what was on its way
    const slow = await ratePerSecond();
    expect(fast).toBeGreaterThan(6); // the emulator sends 10 lines a second
    expect(slow).toBeLessThan(3.5); // at most one kept per 500 ms
  });

  it('answers 504 within the deadline when the agent is frozen, while the API stays quick; 409 at once after a kill', async () => {
    const s = await up();
    s.agent.pause(); // SIGSTOP
    const started = Date.now();
    const frozen = command(s.apiUrl, DEVICE, 'ping', { timeoutMs: 1500 });
    const quick = await apiGet(s.apiUrl, '/api/v1/devices', null);
    expect(quick.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    const timedOut = await frozen;
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.code).toBe('API_DEVICE_TIMEOUT');
    expect(timedOut.ms).toBeGreaterThanOrEqual(1400);
    expect(timedOut.ms).toBeLessThan(2500);
    s.agent.resume();

    const killedAt = Date.now();
    await s.agent.kill();
    await waitFor(
      async () =>
        (await apiGet<{ devices: Array<{ device: string; state: string | null }> }>(s.apiUrl, '/api/v1/devices', null)).body.devices.find(
          (d) => d.device === DEVICE,
        )?.state === 'offline',
      {
        timeoutMs: 10_000,
        what: 'the device offline after its will',
      },
    );
    // Issue 13: a killed agent shows offline within 2 s of its will (the broker sends the will as the socket closes).
    expect(Date.now() - killedAt).toBeLessThan(2000);
    const offline = await command(s.apiUrl, DEVICE, 'ping', { timeoutMs: 5000 });
    expect(offline.status).toBe(409);
    expect(offline.body.code).toBe('API_DEVICE_OFFLINE');
    expect(offline.ms).toBeLessThan(500);
  });

  it('runs a redelivered request once and answers it twice, the same', async () => {
    const s = await up();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${s.ports.mqtt}`, {
      protocolVersion: 4,
      username: users.backend.username,
      password: users.backend.password,
      clientId: 'test-commands-requester',
    });
    try {
      const replies: CommandReply[] = [];
      client.on('message', (_topic, payload) => {
        const decoded = decodeCommandReply(payload);
        if (decoded.ok && decoded.value.requestId === 'redelivered-1') replies.push(decoded.value);
      });
      await client.subscribeAsync(topics.commandReply(DEVICE, 'announce'), { qos: 1 });
      const request = encodePayload({ v: 1, requestId: 'redelivered-1', deadline: Date.now() + 10_000, requester: 'test' });
      const runsBefore = (await agentMetrics(s).read('furnace_agent_commands_total', { command: 'announce', outcome: 'ok' })) ?? 0;
      await client.publishAsync(topics.command(DEVICE, 'announce'), request, { qos: 1 });
      await client.publishAsync(topics.command(DEVICE, 'announce'), request, { qos: 1 }); // as the broker redelivers it
      await waitFor(() => replies.length === 2, { timeoutMs: 5000, what: 'two replies' });
      expect(replies[1]).toEqual(replies[0]);
      expect(replies[0]?.outcome).toBe('ok');
      expect(await agentMetrics(s).read('furnace_agent_commands_total', { command: 'announce', outcome: 'ok' })).toBe(runsBefore + 1);
      expect(await agentMetrics(s).read('furnace_agent_command_duplicates_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await client.endAsync();
    }
  });
});

describe('100 concurrent commands to 10 devices', () => {
  const pairs: InProcessPair[] = [];
  let dir: string;
  afterEach(async () => {
    await Promise.all(pairs.splice(0).map((pair) => pair.stop()));
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers or refuses every one within its deadline, never piling them up', async () => {
    dir = mkdtempSync(join(tmpdir(), 'test-commands-load-'));
    const [mqttPort, httpPort] = (await freePorts(2)) as [number, number];
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const base = `http://127.0.0.1:${httpPort}`;
    await startCli('broker', ['--host', '127.0.0.1', '--port', String(mqttPort), '--allow-anonymous']);
    await startCli('backend', [
      '--host',
      '127.0.0.1',
      '--port',
      String(httpPort),
      '--mqtt-url',
      url,
      '--data-dir',
      join(dir, 'backend'),
      '--open-access',
    ]);
    const devices = Array.from({ length: 10 }, (_, i) => `load-${i + 1}`);
    for (const device of devices) {
      pairs.push(
        startInProcessPair({
          device,
          mqttUrl: url,
          env: {},
          dataDir: join(dir, device),
          healthPort: 0,
          intervalMs: 200,
          speed: 60,
          setpoint: 600,
          scenario: '',
          print: () => undefined,
        }),
      );
    }
    for (const device of devices) {
      await waitFor(async () => (await command(base, device, 'ping')).body.outcome === 'ok', {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: `${device} to answer a ping`,
      });
    }
    const kinds = ['ping', 'outbox', 'read-now'];
    const timeoutMs = 5000;
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => command(base, devices[i % 10] ?? 'load-1', kinds[i % 3] ?? 'ping', { timeoutMs })),
    );
    const statuses = answers.map((answer) => answer.status);
    const answered = statuses.filter((status) => status === 200).length; // the agent's reply, whatever its outcome
    const ok = answers.filter((answer) => answer.status === 200 && answer.body.outcome === 'ok').length;
    const busy = statuses.filter((status) => status === 429).length;
    process.stdout.write(
      `100 concurrent commands to 10 devices: ${answered} answered (${ok} ok), ${busy} refused busy (429), in ${Date.now() - started} ms\n`,
    );
    expect(answered + busy).toBe(100);
    expect(answered).toBeGreaterThanOrEqual(40); // 4 in flight per device by default
    expect(ok).toBeGreaterThanOrEqual(answered - 5);
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(timeoutMs + 1000);
  });
});
