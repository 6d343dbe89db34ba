import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusEmulator } from '../../hardware/modbus-emulator.js';
import { parseScenario } from '../../hardware/scenario.js';
import { type InProcessTransport, openInProcessTransport } from '../../hardware/transports/in-process-transport.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import type { ModbusOptions } from '../config-schema.js';
import { createLink } from '../links/link-factory.js';
import { ModbusBusDriver } from './modbus-driver.js';
import type { ModbusSensorPlan, PortPlan } from '../sensor-plan.js';
import { RecordingSink } from '../../test/helpers/recording-sink.js';

const log = pino({ level: 'silent' });
// The emulators' own clock never ticks during a test: tick() advances 10 simulated seconds.
const MANUAL_TIME = { intervalMs: 3_600_000, speed: 1 / 360 } as const;
const PV: Omit<ModbusOptions, 'slaveId'> = {
  register: 0,
  table: 'input',
  type: 'int16',
  byteOrder: 'big',
  wordOrder: 'big',
  scale: 0.1,
  offset: 0,
  noValue: -32768,
  pollMs: 40,
  timeoutMs: 100,
  retries: 1,
};

function sensor(id: string, slaveId: number, overrides: Partial<ModbusOptions> = {}): ModbusSensorPlan {
  return {
    id,
    port: 'bus',
    unit: 'C',
    driver: 'modbus',
    sampling: { minIntervalMs: 0, deadband: 0, heartbeatMs: 0 },
    modbus: { ...PV, slaveId, ...overrides },
  };
}

describe('ModbusBusDriver on an in-process RS-485 bus with two emulated controllers', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Two slaves on one bus: every request reaches both; each answers only its own address (spec §9). */
  function startBus(scenario1: string): { transport: InProcessTransport; slaves: ModbusEmulator[] } {
    const transport = openInProcessTransport(`/dev/ttyRS485-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const listeners: Array<(chunk: Buffer) => void> = [];
    transport.onData((chunk) => listeners.forEach((listener) => listener(chunk)));
    const bus = {
      write: (data: string | Uint8Array) => transport.write(data),
      onData: (listener: (chunk: Buffer) => void) => void listeners.push(listener),
    };
    const slaves = [1, 2].map(
      (slaveId) =>
        new ModbusEmulator({
          seed: slaveId,
          setpoint: 400,
          ...MANUAL_TIME,
          slaveId,
          scenario: parseScenario(slaveId === 1 ? scenario1 : ''),
          link: bus,
        }),
    );
    slaves.forEach((slave) => slave.start());
    cleanups.push(async () => {
      slaves.forEach((slave) => slave.stop());
      await transport.close();
    });
    return { transport, slaves };
  }

  function startDriver(transport: InProcessTransport, sensors: ModbusSensorPlan[]): RecordingSink {
    const port: PortPlan = {
      name: 'bus',
      path: transport.devicePath,
      baudRate: 19_200,
      dataBits: 8,
      parity: 'even',
      stopBits: 1,
      reopenMinMs: 20,
      reopenMaxMs: 200,
      stallAfterMs: 0,
      connectTimeoutMs: 1000,
      driver: 'modbus',
      sensors,
    };
    const sink = new RecordingSink();
    const driver = new ModbusBusDriver(port, createLink(port, log, transport.binding), sink, log);
    driver.start();
    cleanups.push(() => driver.stop());
    return sink;
  }

  it('reads PV as int16 tenths and as a float from two slaves', async () => {
    const { transport } = startBus('');
    const sink = startDriver(transport, [
      sensor('zone1', 1),
      sensor('zone2f', 2, { register: 1, type: 'float32', scale: 1, noValue: undefined }),
    ]);
    await waitFor(() => sink.readingsOf('zone1').length >= 2 && sink.readingsOf('zone2f').length >= 2, {
      timeoutMs: 10_000,
      what: 'readings of both slaves',
    });
    for (const reading of sink.readings) expect(reading).toMatchObject({ quality: 'good' });
    expect(sink.readingsOf('zone1')[0]?.value).toBeCloseTo(20, -1); // the room: a cold furnace
    expect(sink.stateOf('zone1')).toEqual({ sensor: 'zone1', state: 'ok' });
    expect(sink.failures).toEqual([]);
  });

  it('turns exceptions, CRC errors, silence and "no value" into bad readings and states; the other slave keeps reporting', async () => {
    const { transport, slaves } = startBus('busy@0+10,crc-errors@10+10,stall@20+10,tc-open@30+10');
    const sink = startDriver(transport, [sensor('zone1', 1), sensor('zone2', 2)]);
    const tick = () => slaves.forEach((slave) => slave.tick());
    /** Waits for zone1's state and for zone2 to have read on meanwhile. */
    const phase = async (state: string, reason: RegExp) => {
      const before = sink.readingsOf('zone2').length;
      await waitFor(() => sink.stateOf('zone1')?.state === state && reason.test(sink.stateOf('zone1')?.reason ?? ''), {
        timeoutMs: 10_000,
        what: `zone1 ${state} (${reason})`,
      });
      await waitFor(() => sink.readingsOf('zone2').length >= before + 3, { timeoutMs: 10_000, what: 'zone2 to keep reporting' });
    };

    await phase('faulty', /exception 06 \(slave device busy\)/);
    expect(sink.readingsOf('zone1').every((reading) => reading.quality === 'bad' && reading.value === null)).toBe(true);
    expect(sink.failures.some((failure) => failure.sensor === 'zone1' && failure.reason === 'modbus_exception_6')).toBe(true);
    tick();
    await phase('faulty', /CRC/);
    tick();
    const readingsBeforeStall = sink.readingsOf('zone1').length;
    await phase('stalled', /no answer within 100 ms/);
    expect(sink.readingsOf('zone1').length).toBe(readingsBeforeStall); // silence is no reading
    tick();
    await phase('faulty', /no value \(raw -32768\)/);
    expect(sink.readingsOf('zone1').at(-1)).toMatchObject({ value: null, quality: 'bad' });
    tick();
    await phase('ok', /^$/);
    expect(sink.readingsOf('zone1').at(-1)).toMatchObject({ quality: 'good' });
    expect(sink.readingsOf('zone2').every((reading) => reading.quality === 'good')).toBe(true);
    expect(sink.failures.filter((failure) => failure.sensor === 'zone2')).toEqual([]);
  });
});
