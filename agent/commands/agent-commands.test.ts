// The agent's commands end to end on real parts: Mosquitto, the agent in this process reading an
// emulated line sensor and an emulated Modbus controller over socat pseudo-terminals, and an
// MQTT.js client playing the backend: it publishes requests on cmd/v1/{device}/{command} and
// reads the replies on .../reply, while an observer watches the readings the agent publishes.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type CommandReply, decodeCommandReply, topics } from '../../contract/index.js';
import { LineEmulator } from '../../hardware/line-emulator.js';
import { ModbusEmulator } from '../../hardware/modbus-emulator.js';
import { type AgentObserver, agentMetric, capturedLog, observeAgent } from '../../test/helpers/agent-observer.js';
import { type Mosquitto, startMosquitto } from '../../test/helpers/mosquitto.js';
import { describeWithProgram } from '../../test/helpers/require-program.js';
import { type PtyPair, startPtyPair } from '../../test/helpers/socat.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { type RunningAgent, loadAgentConfig, startAgent } from '../index.js';

const DEVICE = 'furnace-cmd';

describeWithProgram('socat', 'socat', 'agent commands over a real broker', () => {
  let dir: string;
  let broker: Mosquitto;
  let observer: AgentObserver;
  let agent: RunningAgent;
  let backend: MqttClient;
  const replies: CommandReply[] = [];
  const invalid: string[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-commands-'));
    broker = await startMosquitto();
    observer = await observeAgent(broker.url, DEVICE);
    backend = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    replies.length = 0;
    invalid.length = 0;
    backend.on('message', (topic, payload) => {
      const decoded = decodeCommandReply(payload);
      if (decoded.ok) replies.push(decoded.value);
      else invalid.push(`${topic}: ${decoded.cause}`);
    });
    await backend.subscribeAsync(`cmd/v1/${DEVICE}/+/reply`, { qos: 1 });
    const line = await startPtyPair();
    const bus = await startPtyPair();
    cleanups.push(line.stop, bus.stop);
    const sensor = await openEnd(line, 9600, 'none');
    const emulator = new LineEmulator({ seed: 5, intervalMs: 20, speed: 60, write: (data) => void sensor.write(data) });
    emulator.start();
    cleanups.push(() => emulator.stop());
    const controller = await openEnd(bus, 19_200, 'even');
    const slave = new ModbusEmulator({
      seed: 1,
      setpoint: 400,
      intervalMs: 3_600_000,
      speed: 1 / 360,
      slaveId: 1,
      link: { write: (data) => void controller.write(Buffer.from(data)), onData: (listener) => void controller.on('data', listener) },
    });
    slave.start();
    cleanups.push(() => slave.stop());
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        `serial: { path: ${line.a} }`,
        `ports: { rs485: { path: ${bus.a}, stallAfterIntervals: 0 } }`,
        'sensors:',
        '  - { id: tc1, line: { intervalMs: 20 } }',
        '  - { id: zone1, port: rs485, driver: modbus, modbus: { slaveId: 1, register: 0, scale: 0.1, noValue: -32768, pollMs: 60000, timeoutMs: 300 } }',
      ].join('\n'),
    );
    const config = loadAgentConfig(
      join(dir, 'agent.yaml'),
      {
        FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50',
        // Nothing is sent again for want of a confirmation during a test: only resend does.
        FURNACE_AGENT_CONFIRM_TIMEOUT_MS: '600000',
      },
      {
        device: DEVICE,
        'mqtt.url': broker.url,
        dataDir: join(dir, 'outbox'),
        'health.port': '0',
        'health.host': '127.0.0.1',
      },
    );
    agent = startAgent(config, { log: capturedLog().logger });
    cleanups.push(() => agent.stop());
    await agent.ready;
    // Requests published before the broker has the agent's subscription would be lost (clean session).
    await waitFor(async () => ((await healthz()).commands as { subscribed: boolean }).subscribed, {
      timeoutMs: 10_000,
      what: 'the agent subscribed to its commands',
    });
    await waitFor(() => observer.sensorState('tc1')?.state === 'ok' && observer.sensorState('zone1')?.state === 'ok', {
      timeoutMs: 15_000,
      what: 'both sensors ok',
    });
  });
  afterEach(async () => {
    expect(invalid).toEqual([]); // every reply met the contract
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await backend.endAsync(true);
    await observer.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openEnd(pair: PtyPair, baudRate: number, parity: 'none' | 'even'): Promise<SerialPort> {
    const port = new SerialPort({ path: pair.b, baudRate, parity, autoOpen: false });
    port.on('error', () => undefined); // the pair is killed under it at the end
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
    return port;
  }

  async function healthz(): Promise<Record<string, unknown>> {
    return (await (await fetch(`http://127.0.0.1:${agent.healthPort}/healthz`)).json()) as Record<string, unknown>;
  }
  const metric = (name: string, labels?: Record<string, string>) => agentMetric(agent.healthPort ?? 0, name, labels);

  /** Publishes a raw request and waits for the reply carrying `requestId`. */
  async function publish(command: string, payload: string, requestId: string): Promise<CommandReply> {
    await backend.publishAsync(topics.command(DEVICE, command), payload, { qos: 1 });
    return waitFor(() => replies.find((reply) => reply.requestId === requestId), {
      timeoutMs: 10_000,
      what: `the reply to ${command} ${requestId}`,
    });
  }
  /** Sends a command as the backend does, with a deadline `timeoutMs` from now; resolves with the reply and its round trip. */
  async function send(command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<CommandReply & { tookMs: number }> {
    const requestId = randomUUID();
    const sent = Date.now();
    const reply = await publish(
      command,
      JSON.stringify({ v: 1, requestId, deadline: sent + timeoutMs, requester: 'test-backend', ...(args && { args }) }),
      requestId,
    );
    return { ...reply, tookMs: Date.now() - sent };
  }
  const readingsOf = (sensor: string, from: number, to = Infinity) =>
    observer.readings.filter((r) => r.sensor === sensor && !r.replay && r.ts >= from && r.ts < to);

  it('read-now returns a fresh reading of a line sensor and of a Modbus sensor in under a second, published as usual', async () => {
    for (const sensor of ['tc1', 'zone1']) {
      const asked = Date.now();
      const reply = await send('read-now', { sensor });
      expect(reply).toMatchObject({
        command: 'read-now',
        outcome: 'ok',
        data: { sensor, unit: 'C', quality: 'good', stored: true, state: 'ok' },
      });
      expect(reply.tookMs).toBeLessThan(1000);
      const reading = reply.data as { seq: number; ts: number; value: number };
      expect(reading.ts).toBeGreaterThanOrEqual(asked);
      const published = await waitFor(() => observer.readings.find((r) => r.seq === reading.seq), {
        timeoutMs: 10_000,
        what: `seq ${reading.seq} published`,
      });
      expect(published).toMatchObject({ sensor, ts: reading.ts, value: reading.value, boot: agent.boot });
    }
    // zone1 is polled once a minute: the bus's first poll and read-now's are all there is.
    expect(readingsOf('zone1', 0)).toHaveLength(2);
    expect(await send('ping')).toMatchObject({
      outcome: 'ok',
      data: { device: DEVICE, boot: agent.boot, agentVersion: expect.any(String) as string },
    });
  });

  it('set-interval changes the rate of the readings published, for a line sensor and a Modbus sensor', async () => {
    const before = Date.now();
    await waitFor(() => readingsOf('tc1', before + 1000).length > 0, { timeoutMs: 10_000, what: 'a second of tc1 readings' });
    const fast = readingsOf('tc1', before, before + 1000).length;
    expect(fast).toBeGreaterThan(20); // a line every 20 ms
    const slowed = await send('set-interval', { sensor: 'tc1', intervalMs: 500 });
    expect(slowed).toMatchObject({
      outcome: 'ok',
      data: { sensor: 'tc1', intervalMs: 500, previousMs: 0, setting: 'sampling.minIntervalMs', persisted: false },
    });
    const from = Date.now() + 100;
    await waitFor(() => readingsOf('tc1', from + 2000).length > 0, { timeoutMs: 10_000, what: 'two seconds of tc1 at the new interval' });
    const slow = readingsOf('tc1', from, from + 2000);
    expect(slow.length).toBeGreaterThanOrEqual(3);
    expect(slow.length).toBeLessThanOrEqual(5);

    const sped = await send('set-interval', { sensor: 'zone1', intervalMs: 50 });
    expect(sped).toMatchObject({ outcome: 'ok', data: { sensor: 'zone1', intervalMs: 50, previousMs: 60_000, setting: 'modbus.pollMs' } });
    const polled = Date.now();
    await waitFor(() => readingsOf('zone1', polled).length >= 10, { timeoutMs: 10_000, what: 'zone1 polled every 50 ms' });
  });

  it('answers announce, outbox and resend; a redelivered request once; malformed and unknown requests with refusals', async () => {
    await waitFor(() => observer.readings.length >= 20, { timeoutMs: 10_000, what: 'readings published' });
    const statuses = observer.statuses.length;
    const request = JSON.stringify({ v: 1, requestId: 'announce-1', deadline: Date.now() + 5000, requester: 'ops' });
    const first = await publish('announce', request, 'announce-1');
    expect(first).toMatchObject({ outcome: 'ok', data: { published: ['status', 'sensors'] } });
    await waitFor(() => observer.statuses.length > statuses, { timeoutMs: 10_000, what: 'the birth again' });
    expect(observer.statuses.at(-1)).toMatchObject({ state: 'online', boot: agent.boot });
    // The same request again, as a broker redelivers it: the same reply, from the cache.
    await backend.publishAsync(topics.command(DEVICE, 'announce'), request, { qos: 1 });
    await waitFor(() => replies.filter((reply) => reply.requestId === 'announce-1').length === 2, {
      timeoutMs: 10_000,
      what: 'the second reply',
    });
    expect(replies.filter((reply) => reply.requestId === 'announce-1')).toEqual([first, first]);
    expect(await metric('furnace_agent_commands_total', { command: 'announce', outcome: 'ok' })).toBe(1);
    expect(await metric('furnace_agent_command_duplicates_total')).toBe(1);

    // No backend confirms here: what the broker took waits in the outbox, unconfirmed (a count at
    // most a second old: the outbox counts at most once a second).
    const outbox = await waitFor(
      async () => {
        const answer = await send('outbox');
        return (answer.data as { unconfirmed: number }).unconfirmed > 0 && answer;
      },
      { timeoutMs: 5000, intervalMs: 300, what: 'the outbox command to count unconfirmed readings' },
    );
    expect(outbox).toMatchObject({ outcome: 'ok', data: { confirmBy: 'backend', confirmationLagMs: null } });
    expect(observer.readings.filter((r) => r.seq <= 5)).toHaveLength(5);
    const resent = await send('resend', { boot: agent.boot, fromSeq: 1, toSeq: 5 });
    expect(resent).toMatchObject({ outcome: 'ok', data: { held: 5, notHeld: 0 } });
    await waitFor(() => [1, 2, 3, 4, 5].every((seq) => observer.readings.filter((r) => r.seq === seq).length >= 2), {
      timeoutMs: 10_000,
      what: 'seq 1 to 5 sent again',
    });
    expect(observer.readings.filter((r) => r.seq === 1).at(-1)).toMatchObject({ replay: true, boot: agent.boot });

    expect(await publish('ping', JSON.stringify({ v: 1, requestId: 'bad-1' }), 'bad-1')).toMatchObject({
      outcome: 'refused',
      code: 'AGENT_COMMAND_MALFORMED',
    });
    expect(await send('reboot')).toMatchObject({ command: 'reboot', outcome: 'refused', code: 'AGENT_COMMAND_UNKNOWN' });
    expect(await send('set-interval', { sensor: 'tc1', intervalMs: 1 })).toMatchObject({
      outcome: 'refused',
      code: 'AGENT_COMMAND_BAD_ARGS',
    });
    await backend.publishAsync(topics.command(DEVICE, 'ping'), 'not json', { qos: 1 });
    await waitFor(async () => (await metric('furnace_agent_commands_dropped_total', { cause: 'not_json' })) === 1, {
      timeoutMs: 10_000,
      what: 'the junk counted',
    });
    expect(replies.filter((reply) => reply.outcome === 'refused')).toHaveLength(3);
  });
});
