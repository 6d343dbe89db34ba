// The agent's serial side on real pseudo-terminals (socat), with the emulator as the sensor and
// Mosquitto as the broker: a port unplugged and plugged back, a port gone silent, a megabyte of
// noise. The agent runs in this process, with the operating system's serial binding.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type RunningAgent, loadAgentConfig, startAgent } from '../agent/index.js';
import { LineEmulator } from '../hardware/line-emulator.js';
import { parseScenario } from '../hardware/scenario.js';
import { type AgentObserver, agentMetric, capturedLog, observeAgent } from './helpers/agent-observer.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';
import { stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { type PtyPair, startPtyPair } from './helpers/socat.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-serial';

describeWithProgram('socat', 'socat', 'the agent on a real serial line', () => {
  let dir: string;
  let broker: Mosquitto;
  let observer: AgentObserver;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-serial-'));
    broker = await startMosquitto();
    observer = await observeAgent(broker.url, DEVICE);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await observer.stop();
    await broker.stop();
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the agent in this process on `yaml` (device, broker and data folder filled in). */
  async function agentOn(yaml: string, log = capturedLog()): Promise<RunningAgent> {
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, yaml);
    const config = loadAgentConfig(
      file,
      { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50' },
      {
        device: DEVICE,
        'mqtt.url': broker.url,
        dataDir: join(dir, 'outbox'),
        'health.port': '0',
        'health.host': '127.0.0.1',
      },
    );
    const agent = startAgent(config, { log: log.logger });
    cleanups.push(() => agent.stop());
    await agent.ready;
    return agent;
  }

  /** Opens the sensor's end of the pair; `close` is idempotent. */
  async function sensorEnd(
    pair: PtyPair,
  ): Promise<{ port: SerialPort; write: (data: string | Buffer) => Promise<void>; close: () => Promise<void> }> {
    const port = new SerialPort({ path: pair.b, baudRate: 9600, autoOpen: false });
    port.on('error', () => undefined); // the pair may be killed under it
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    const close = () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
    cleanups.push(close);
    const write = (data: string | Buffer) =>
      new Promise<void>((resolve, reject) => port.write(data, (error) => (error ? reject(error) : port.drain(() => resolve()))));
    return { port, write, close };
  }

  function emulate(write: (data: Buffer) => void, scenario = '', speed = 60): LineEmulator {
    const emulator = new LineEmulator({ seed: 5, intervalMs: 20, speed, scenario: parseScenario(scenario), write });
    emulator.start();
    cleanups.push(() => emulator.stop());
    return emulator;
  }

  it('reports an unplugged port disconnected, then ok when it is back, and reads on without a restart', async () => {
    const ptyDir = join(dir, 'pty');
    mkdirSync(ptyDir);
    let pair = await startPtyPair(ptyDir);
    cleanups.push(() => pair.stop());
    let sensor = await sensorEnd(pair);
    let emulator = emulate((data) => sensor.port.write(data));
    const agent = await agentOn(`serial: { path: ${pair.a}, reopenMaxMs: 300 }\n`);
    await waitFor(() => observer.sensorState('tc1')?.state === 'ok' && observer.readings.length >= 20, {
      timeoutMs: 15_000,
      what: 'tc1 ok and reading',
    });

    emulator.stop();
    await pair.stop(); // socat killed: the "USB adapter" is gone
    await sensor.close();
    await waitFor(() => observer.sensorState('tc1')?.state === 'disconnected', { timeoutMs: 15_000, what: 'tc1 disconnected' });
    expect(observer.sensorState('tc1')?.reason).toMatch(/\S/);

    pair = await startPtyPair(ptyDir); // plugged back in, at the same path
    const back = Date.now();
    sensor = await sensorEnd(pair);
    emulator = emulate((data) => sensor.port.write(data));
    await waitFor(() => observer.sensorState('tc1')?.state === 'ok' && observer.readings.filter((r) => r.ts > back).length >= 10, {
      timeoutMs: 15_000,
      what: 'tc1 ok again and reading',
    });
    // The emulator stops before the pair is killed: on a loaded machine the silence between may be
    // long enough to be reported stalled first. Disconnected must come straight before the last ok.
    const history = observer.sensorHistory('tc1');
    expect(history.at(-2)).toBe('disconnected');
    expect(history.filter((state) => state !== 'stalled').slice(-3)).toEqual(['ok', 'disconnected', 'ok']);
    expect(new Set(observer.readings.map((reading) => reading.boot))).toEqual(new Set([agent.boot]));
    const seqs = [...observer.uniqueBySeq().keys()];
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('reports a silent port stalled, reopens it, and is ok once lines come again', async () => {
    const pair = await startPtyPair();
    cleanups.push(pair.stop);
    const sensor = await sensorEnd(pair);
    // One simulated second per line; silent from the 40th line to the 90th: a second of silence.
    emulate((data) => sensor.port.write(data), 'stall@40+50', 50);
    const log = capturedLog();
    await agentOn(`serial: { path: ${pair.a}, stallAfterIntervals: 10 }\nsensors: [{ id: tc1, line: { intervalMs: 20 } }]\n`, log);
    await waitFor(() => observer.sensorHistory('tc1').slice(-3).join() === 'ok,stalled,ok', {
      timeoutMs: 15_000,
      what: 'tc1 ok → stalled → ok',
    });
    const stalled = observer.sensors.flatMap((report) => report.sensors).find((entry) => entry.state === 'stalled');
    expect(stalled?.reason).toBe('no data for 200 ms');
    expect(log.find('port stalled; reopening').length).toBeGreaterThanOrEqual(1);
    expect(log.find('port recovered')).toHaveLength(1);
  });

  it('reopens a port that stays silent with growing gaps, not at once for ever, and reads again when the sensor speaks', async () => {
    const pair = await startPtyPair();
    cleanups.push(pair.stop);
    const sensor = await sensorEnd(pair);
    const emulator = emulate((data) => sensor.port.write(data));
    const log = capturedLog('debug');
    // Stalled after 100 ms of silence; reopened 20 ms later, the wait doubling up to 1 s.
    const stallAfterMs = 100;
    const reopenMinMs = 20;
    await agentOn(
      `serial: { path: ${pair.a}, stallAfterIntervals: 5, reopenMinMs: ${reopenMinMs}, reopenMaxMs: 1000 }\n` +
        'sensors: [{ id: tc1, line: { intervalMs: 20 } }]\n',
      log,
    );
    await waitFor(() => observer.sensorState('tc1')?.state === 'ok' && observer.readings.length >= 10, {
      timeoutMs: 15_000,
      what: 'tc1 ok and reading',
    });

    emulator.stop(); // the sensor hangs: its end of the line stays open, and silent
    const windowMs = 4000;
    const stalls = () => log.find('port stalled; reopening');
    const stallTimes = () => stalls().map((line) => line.time as number);
    await waitFor(() => stallTimes().some((at, _, [first = at]) => at >= first + windowMs), {
      timeoutMs: 20_000,
      what: `the port to stay stalled for ${windowMs} ms`,
    });
    const first = stallTimes()[0] ?? 0;
    const reopens = stallTimes().filter((at) => at < first + windowMs);
    // With no backoff the port is reopened every stallAfterMs + reopenMinMs: about 33 times in the window.
    const withoutBackoff = windowMs / (stallAfterMs + reopenMinMs);
    expect(reopens.length).toBeLessThan(withoutBackoff / 3);
    expect(reopens.length).toBeGreaterThanOrEqual(4); // it does keep trying
    const gaps = reopens.slice(1).map((at, i) => at - (reopens[i] ?? at));
    expect(gaps.at(-1)).toBeGreaterThan(2 * (gaps[0] ?? 0)); // the gaps grow
    // One warning for the outage, the repeats at debug; the sensor stays stalled, not disconnected.
    expect(stalls().map((line) => line.level)).toEqual(stalls().map((_, i) => (i === 0 ? 40 : 20)));
    expect(observer.sensorState('tc1')?.state).toBe('stalled');
    expect(log.find('port recovered')).toEqual([]);

    const back = Date.now();
    emulate((data) => sensor.port.write(data)); // the sensor speaks again
    await waitFor(
      () => observer.sensorState('tc1')?.state === 'ok' && observer.readings.filter((reading) => reading.ts > back).length >= 10,
      {
        timeoutMs: 15_000,
        what: 'tc1 ok again and reading',
      },
    );
    expect(log.find('port recovered')).toEqual([expect.objectContaining({ level: 30, failures: stalls().length })]);
  });

  it('survives a megabyte of random bytes: counts the parse errors and reads the good lines around it', async () => {
    const pair = await startPtyPair();
    cleanups.push(pair.stop);
    const sensor = await sensorEnd(pair);
    const agent = await agentOn(`serial: { path: ${pair.a} }\n`);
    const health = agent.healthPort ?? 0;
    await sensor.write('T=111.1,CJ=24.0\r\n'.repeat(5));
    const noise = randomBytes(1024 * 1024);
    for (let offset = 0; offset < noise.length; offset += 64 * 1024) await sensor.write(noise.subarray(offset, offset + 64 * 1024));
    // Spec §7: the tail of the noise joins the next line, which is then refused; the rest are read.
    await sensor.write(`\r\n${'T=222.2,CJ=24.0\r\n'.repeat(5)}`);
    await waitFor(() => observer.readings.filter((reading) => reading.value === 222.2).length === 5, {
      timeoutMs: 20_000,
      what: 'the good lines after the noise',
    });

    expect(observer.readings.filter((reading) => reading.value === 111.1)).toHaveLength(5);
    expect(observer.readings.every((reading) => reading.value === 111.1 || reading.value === 222.2)).toBe(true);
    const refused = (reason: string) => agentMetric(health, 'furnace_agent_parse_errors_total', { sensor: 'tc1', reason });
    const tooLong = await refused('too_long');
    const unrecognised = await refused('unrecognised');
    expect(tooLong + unrecognised).toBeGreaterThan(1000); // about 4096 newlines in a MB of random bytes
    expect(agent.stats.linesRefused.too_long).toBe(tooLong);
    expect(await agentMetric(health, 'furnace_agent_readings_stored_total')).toBe(10);
  });
});
