// read-now and set-interval against the real reading pipeline and outbox (SQLite in a temp
// folder), line sensors fed directly, Modbus sensors polled on an in-process RS-485 bus with an
// emulated controller.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ModbusEmulator } from '../../hardware/modbus-emulator.js';
import { openInProcessTransport } from '../../hardware/transports/in-process-transport.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import type { ModbusOptions } from '../config-schema.js';
import { createLink } from '../links/link-factory.js';
import { AgentMetrics } from '../health/metrics.js';
import { ModbusBusDriver } from '../drivers/modbus-driver.js';
import { DurableOutbox } from '../outbox/outbox.js';
import { ReadingPipeline } from '../readings/reading-pipeline.js';
import { SensorControl } from '../readings/sensor-control.js';
import { SensorHealthBoard } from '../readings/sensor-health.js';
import type { LineSensorPlan, ModbusSensorPlan, PortPlan, SensorPlan } from '../sensor-plan.js';
import type { CommandContext, CommandResult } from './handler.js';
import { readNowHandler } from './read-now.js';
import { setIntervalHandler } from './set-interval.js';

const log = pino({ level: 'silent' });
const T0 = Date.now();
const NO_SAMPLING = { minIntervalMs: 0, deadband: 0, heartbeatMs: 0 };

const line = (id: string, sampling: Partial<SensorPlan['sampling']> = {}): LineSensorPlan => ({
  id,
  port: 'serial',
  unit: 'C',
  driver: 'line',
  intervalMs: 1000,
  line: { format: 'spec' },
  sampling: { ...NO_SAMPLING, ...sampling },
});
const PV: Omit<ModbusOptions, 'slaveId'> = {
  register: 0,
  table: 'input',
  type: 'int16',
  byteOrder: 'big',
  wordOrder: 'big',
  scale: 0.1,
  offset: 0,
  noValue: -32768,
  pollMs: 60_000,
  timeoutMs: 100,
  retries: 0,
};
const zone = (id: string, slaveId: number, pollMs = 60_000): ModbusSensorPlan => ({
  id,
  port: 'bus',
  unit: 'C',
  driver: 'modbus',
  sampling: NO_SAMPLING,
  modbus: { ...PV, slaveId, pollMs },
});

function context(signal = new AbortController().signal): CommandContext {
  return { signal, requester: 'test', waitingFor: () => undefined };
}
const data = (result: CommandResult) =>
  result.outcome === 'ok' ? (result.data as Record<string, unknown>) : expect.fail(`${result.outcome}: ${result.reason}`);

describe('read-now and set-interval', () => {
  let dir: string;
  let outbox: DurableOutbox;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sensor-commands-'));
    outbox = new DurableOutbox(dir);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function agentParts(sensors: SensorPlan[]) {
    const metrics = new AgentMetrics({ outboxDepth: () => outbox.depth, outboxOldestAgeMs: () => 0, mqttConnected: () => true });
    const board = new SensorHealthBoard(
      'f',
      sensors.map((sensor) => sensor.id),
    );
    const pipeline = new ReadingPipeline({
      boot: 'b1',
      sensors,
      outbox,
      board,
      metrics,
      log,
      clock: () => 'synced',
      committed: () => undefined,
      stateChanged: () => undefined,
    });
    return { board, pipeline };
  }

  /** An agent's sensors on a Modbus bus with one emulated controller (slave 1); `sensors` are all on that bus. */
  function modbusAgent(sensors: ModbusSensorPlan[], stallAfterMs = 0) {
    const parts = agentParts(sensors);
    const transport = openInProcessTransport(`/dev/ttyCMD-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const slave = new ModbusEmulator({ seed: 1, setpoint: 400, intervalMs: 3_600_000, speed: 1 / 360, slaveId: 1, link: transport });
    slave.start();
    const port: PortPlan = {
      name: 'bus',
      path: transport.devicePath,
      baudRate: 19_200,
      dataBits: 8,
      parity: 'even',
      stopBits: 1,
      reopenMinMs: 20,
      reopenMaxMs: 200,
      stallAfterMs,
      connectTimeoutMs: 1000,
      driver: 'modbus',
      sensors,
    };
    const link = createLink(port, log, transport.binding);
    const driver = new ModbusBusDriver(port, link, parts.pipeline, log);
    driver.start();
    cleanups.push(async () => {
      await driver.stop();
      slave.stop();
      await transport.close();
    });
    return { ...parts, link, control: new SensorControl(sensors, [port], [driver], parts.pipeline) };
  }

  it('read-now takes the next reading of a line sensor, stored although the sampling would have dropped it', async () => {
    const sensors = [line('tc1', { deadband: 1000 }), line('tc2')];
    const { board, pipeline } = agentParts(sensors);
    const control = new SensorControl(sensors, [], [], pipeline);
    pipeline.reading('tc1', T0, 800, 'good');
    pipeline.state('tc1', 'ok');
    const answer = readNowHandler(control, board)({}, context()); // tc1: the first sensor
    pipeline.reading('tc2', T0 + 50, 500, 'good');
    pipeline.reading('tc1', T0 + 100, 801, 'good'); // inside the deadband: dropped, but asked for
    const reading = data(await answer);
    expect(reading).toEqual({
      sensor: 'tc1',
      seq: 3,
      ts: T0 + 100,
      value: 801,
      unit: 'C',
      quality: 'good',
      clock: 'synced',
      stored: true,
      state: 'ok',
    });
    expect(outbox.peek(10).map((entry) => [entry.sensor, entry.value])).toEqual([
      ['tc1', 800],
      ['tc2', 500],
      ['tc1', 801],
    ]);
    // Only that one reading bypassed the deadband.
    pipeline.reading('tc1', T0 + 200, 802, 'good');
    pipeline.flush();
    expect(outbox.depth).toBe(3);
  });

  it('read-now refuses a sensor the agent does not have, naming the ones it has', async () => {
    const { board, pipeline } = agentParts([line('tc1')]);
    const result = await readNowHandler(new SensorControl([line('tc1')], [], [], pipeline), board)({ sensor: 'tc9' }, context());
    expect(result).toEqual({
      outcome: 'refused',
      code: 'AGENT_COMMAND_BAD_ARGS',
      reason: 'argument sensor: no sensor "tc9" on this agent (it has tc1)',
    });
  });

  it('read-now gives up when its time is up, and the next reading goes through the sampling as usual', async () => {
    const sensors = [line('tc1', { deadband: 1000 })];
    const { board, pipeline } = agentParts(sensors);
    const control = new SensorControl(sensors, [], [], pipeline);
    pipeline.reading('tc1', T0, 800, 'good');
    pipeline.flush();
    const controller = new AbortController();
    const answer = readNowHandler(control, board)({ sensor: 'tc1' }, context(controller.signal));
    controller.abort(new Error('deadline'));
    await expect(answer).rejects.toThrow('deadline');
    pipeline.reading('tc1', T0 + 100, 801, 'good');
    pipeline.flush();
    expect(outbox.depth).toBe(1);
  });

  it("set-interval changes a line sensor's sampling minimum interval, not persisted", async () => {
    const sensors = [line('tc1', { minIntervalMs: 100 })];
    const { pipeline } = agentParts(sensors);
    const control = new SensorControl(sensors, [], [], pipeline);
    const result = await setIntervalHandler(control)({ sensor: 'tc1', intervalMs: 1000 }, context());
    expect(data(result)).toEqual({ sensor: 'tc1', intervalMs: 1000, previousMs: 100, setting: 'sampling.minIntervalMs', persisted: false });
    for (const offset of [0, 200, 500, 999, 1000, 1500, 2000]) pipeline.reading('tc1', T0 + offset, 800 + offset, 'good');
    pipeline.flush();
    expect(outbox.peek(10).map((entry) => entry.ts - T0)).toEqual([0, 1000, 2000]);
    expect(await setIntervalHandler(control)({ sensor: 'nope', intervalMs: 1000 }, context())).toMatchObject({
      outcome: 'refused',
      code: 'AGENT_COMMAND_BAD_ARGS',
    });
  });

  it('read-now polls a Modbus sensor at once, whatever its poll period', async () => {
    const { board, control } = modbusAgent([zone('zone1', 1)]);
    // The bus is read once when it opens; the next poll would be a minute later.
    await waitFor(() => outbox.depth === 1, { timeoutMs: 10_000, what: 'the poll at the opening of the bus' });
    const asked = Date.now();
    const reading = data(await readNowHandler(control, board)({ sensor: 'zone1' }, context()));
    expect(reading).toMatchObject({ sensor: 'zone1', seq: 2, unit: 'C', quality: 'good', stored: true, state: 'ok' });
    expect(reading.ts).toBeGreaterThanOrEqual(asked);
    expect(reading.value).toBeCloseTo(20, -1); // a cold furnace: the room
    expect(outbox.depth).toBe(2);
  });

  it('read-now of a Modbus slave that does not answer fails with the Modbus code', async () => {
    const { board, control } = modbusAgent([zone('zone1', 1), zone('ghost', 7)]);
    await waitFor(() => board.get('ghost')?.state === 'stalled', { timeoutMs: 10_000, what: 'the silent slave stalled' });
    await expect(readNowHandler(control, board)({ sensor: 'ghost' }, context())).rejects.toMatchObject({ code: 'AGENT_MODBUS_TIMEOUT' });
  });

  it("set-interval changes a Modbus sensor's poll period, and the stall watchdog keeps its number of periods", async () => {
    const { control, link } = modbusAgent([zone('zone1', 1, 60_000)], 5 * 60_000);
    await waitFor(() => outbox.depth === 1, { timeoutMs: 10_000, what: 'the poll at the opening of the bus' });
    const stall = vi.spyOn(link, 'setStallAfterMs');
    const result = await setIntervalHandler(control)({ sensor: 'zone1', intervalMs: 20 }, context());
    expect(data(result)).toEqual({ sensor: 'zone1', intervalMs: 20, previousMs: 60_000, setting: 'modbus.pollMs', persisted: false });
    expect(stall).toHaveBeenCalledWith(100);
    await waitFor(() => outbox.depth >= 10, { timeoutMs: 10_000, what: 'polls at the new period' });
  });
});
