// The agent's Modbus RTU driver against the emulated controllers (hardware/README.md §9–§19):
// two slaves on one RS-485 bus over a socat pseudo-terminal, one of them going through the
// emulator's fault scenarios; and a controller behind a serial-to-TCP gateway (tcp://).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type RunningAgent, loadAgentConfig, startAgent } from '../agent/index.js';
import { ModbusEmulator } from '../hardware/modbus-emulator.js';
import { parseScenario } from '../hardware/scenario.js';
import { type AgentObserver, capturedLog, observeAgent } from './helpers/agent-observer.js';
import { startCli } from './helpers/cli.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';
import { stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { startPtyPair } from './helpers/socat.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-modbus';
// The emulators' own clock never ticks during the test: tick() advances 10 simulated seconds.
const MANUAL_TIME = { intervalMs: 3_600_000, speed: 1 / 360 } as const;

describeWithProgram('socat', 'socat', 'the agent reading Modbus RTU controllers', () => {
  let dir: string;
  let broker: Mosquitto;
  let observer: AgentObserver;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-modbus-'));
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

  async function agentOn(yaml: string): Promise<RunningAgent> {
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, yaml);
    const config = loadAgentConfig(
      file,
      { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50' },
      {
        device: DEVICE,
        'mqtt.url': broker.url,
        dataDir: join(dir, 'outbox'),
        'health.enabled': 'false',
      },
    );
    const agent = startAgent(config, { log: capturedLog().logger });
    cleanups.push(() => agent.stop());
    await agent.ready;
    return agent;
  }

  const zone = (id: string, slaveId: number) =>
    `  - { id: ${id}, port: rs485, driver: modbus, modbus: { slaveId: ${slaveId}, register: 0, scale: 0.1, noValue: -32768, pollMs: 50, timeoutMs: 150, retries: 1 } }`;

  it('turns exceptions, CRC errors, timeouts and "no value" into bad readings and sensor states; the second slave on the bus keeps reporting', async () => {
    const pair = await startPtyPair();
    cleanups.push(pair.stop);
    // The bus: every request reaches both controllers; each answers only to its address (spec §9).
    const bus = new SerialPort({ path: pair.b, baudRate: 19_200, parity: 'even', autoOpen: false });
    await new Promise<void>((resolve, reject) => bus.open((error) => (error ? reject(error) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => (bus.isOpen ? bus.close(() => resolve()) : resolve())));
    const listeners: Array<(chunk: Buffer) => void> = [];
    bus.on('data', (chunk: Buffer) => listeners.forEach((listener) => listener(chunk)));
    const link = {
      write: (data: string | Uint8Array) => void bus.write(Buffer.from(data)),
      onData: (listener: (chunk: Buffer) => void) => void listeners.push(listener),
    };
    const scenarios = ['busy@0+10,crc-errors@10+10,stall@20+10,tc-open@30+10', ''];
    const slaves = scenarios.map(
      (scenario, i) =>
        new ModbusEmulator({ seed: i + 1, setpoint: 400, ...MANUAL_TIME, slaveId: i + 1, scenario: parseScenario(scenario), link }),
    );
    slaves.forEach((slave) => slave.start());
    cleanups.push(() => slaves.forEach((slave) => slave.stop()));
    await agentOn(`ports:\n  rs485: { path: ${pair.a}, stallAfterIntervals: 0 }\nsensors:\n${zone('zone1', 1)}\n${zone('zone2', 2)}\n`);

    const of = (sensor: string) => observer.readings.filter((reading) => reading.sensor === sensor);
    /** zone1 reaches `state` with a reason matching `reason`, while zone2 reads on. */
    const phase = async (state: string, reason: RegExp) => {
      const zone2Before = of('zone2').length;
      await waitFor(() => observer.sensorState('zone1')?.state === state && reason.test(observer.sensorState('zone1')?.reason ?? ''), {
        timeoutMs: 15_000,
        what: `zone1 ${state} (${reason})`,
      });
      await waitFor(() => of('zone2').length >= zone2Before + 3, { timeoutMs: 15_000, what: 'zone2 to keep reporting' });
    };
    const tick = () => slaves.forEach((slave) => slave.tick());

    await phase('faulty', /^Modbus slave 1: exception 06 \(slave device busy\)$/);
    expect(of('zone1').length).toBeGreaterThan(0);
    expect(of('zone1').every((reading) => reading.quality === 'bad' && reading.value === null)).toBe(true);
    tick();
    await phase('faulty', /CRC/);
    tick();
    await phase('stalled', /no answer within 150 ms/);
    tick();
    await phase('faulty', /no value \(raw -32768\)/);
    expect(of('zone1').at(-1)).toMatchObject({ quality: 'bad', value: null });
    tick();
    await phase('ok', /^$/);
    await waitFor(() => of('zone1').at(-1)?.quality === 'good', { timeoutMs: 15_000, what: 'a good zone1 reading' });

    expect(of('zone2').every((reading) => reading.quality === 'good' && typeof reading.value === 'number')).toBe(true);
    expect(observer.sensorHistory('zone2').at(-1)).toBe('ok');
    expect(observer.sensorHistory('zone2')).not.toContain('faulty');
    expect(observer.sensorHistory('zone2')).not.toContain('stalled');
  });

  it('reads a controller behind a serial-to-TCP gateway (the emulator CLI on --transport tcp)', async () => {
    const emulator = await startCli('emulator', [
      '--protocol',
      'modbus',
      '--transport',
      'tcp',
      '--port',
      '0',
      '--slave-id',
      '7',
      '--interval-ms',
      '100',
      '--speed',
      '60',
    ]);
    const ready = JSON.parse(await emulator.waitForLine(/emulator ready/)) as { devicePath: string };
    expect(ready.devicePath).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const modbus = (register: number, type: string, extra = '') =>
      `{ slaveId: 7, register: ${register}, type: ${type}, pollMs: 100${extra} }`;
    await agentOn(
      [
        'ports:',
        `  controller: { path: "${ready.devicePath}" }`,
        'sensors:',
        `  - { id: pv, port: controller, driver: modbus, min: 0, max: 1300, modbus: ${modbus(0, 'int16', ', scale: 0.1, noValue: -32768')} }`,
        `  - { id: pvf, port: controller, driver: modbus, modbus: ${modbus(1, 'float32')} }`,
        `  - { id: output, port: controller, driver: modbus, unit: "%", modbus: ${modbus(5, 'uint16', ', scale: 0.1')} }`,
      ].join('\n'),
    );
    await waitFor(() => ['pv', 'pvf', 'output'].every((id) => observer.readings.filter((r) => r.sensor === id).length >= 5), {
      timeoutMs: 15_000,
      what: 'five readings of each register',
    });
    const pv = observer.readings.filter((reading) => reading.sensor === 'pv');
    expect(pv.every((reading) => reading.quality === 'good' && reading.value !== null && reading.value > 0 && reading.value < 1300)).toBe(
      true,
    );
    expect(observer.readings.find((reading) => reading.sensor === 'output')?.unit).toBe('%');
    // The birth names every sensor, with its unit and the range where one is set.
    expect(observer.statuses.find((status) => status.state === 'online')?.sensors).toEqual([
      { id: 'pv', unit: 'C', min: 0, max: 1300 },
      { id: 'pvf', unit: 'C' },
      { id: 'output', unit: '%' },
    ]);
  });
});
