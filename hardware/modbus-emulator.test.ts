import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModbusEmulator, type ModbusEmulatorOptions } from './modbus-emulator.js';
import { hasValidCrc, withCrc } from './modbus/crc16.js';
import { StatusBit, fromTenths } from './modbus/register-map.js';
import { parseScenario } from './scenario.js';

const hex = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');

/** An emulator on a fake bus: `ask` sends a request and returns what came back at once. */
function bus(options: Partial<Omit<ModbusEmulatorOptions, 'scenario'>> & { scenario?: string } = {}) {
  const { scenario, ...rest } = options;
  let deliver: (data: Buffer) => void = () => undefined;
  const sent: Buffer[] = [];
  // One interval is 10 simulated seconds.
  const emulator = new ModbusEmulator({
    seed: 5,
    intervalMs: 1000,
    speed: 10,
    ...rest,
    scenario: parseScenario(scenario ?? ''),
    link: { write: (data) => sent.push(Buffer.from(data)), onData: (listener) => (deliver = listener) },
  });
  emulator.start();
  /** Sends `bytes` as they are and returns what came back at once. */
  const askRaw = (bytes: Buffer): Buffer | undefined => {
    sent.length = 0;
    deliver(bytes);
    return sent.length === 0 ? undefined : Buffer.concat(sent);
  };
  const ask = (body: string) => askRaw(withCrc(hex(body)));
  /** Advances `seconds` of simulated time. */
  const wait = (seconds: number) => vi.advanceTimersByTime((seconds / 10) * 1000);
  const input = (address: number) => ask(`01 04 00 ${address.toString(16).padStart(2, '0')} 00 01`)?.readUInt16BE(3);
  return { emulator, ask, askRaw, wait, input };
}

describe('ModbusEmulator (spec §16, §19.3)', () => {
  let stop: (() => void) | undefined;
  const start = (options: Parameters<typeof bus>[0] = {}) => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const running = bus(options);
    stop = () => running.emulator.stop();
    return running;
  };
  afterEach(() => {
    stop?.();
    vi.useRealTimers();
  });

  it('refreshes the input registers once per interval and heats toward the setpoint', () => {
    const { input, wait } = start({ setpoint: 400 });
    const first = fromTenths(input(0) ?? 0);
    expect(fromTenths(input(0) ?? 0)).toBe(first); // no new sample within an interval
    wait(3600);
    const hot = fromTenths(input(0) ?? 0);
    expect(Math.abs(hot - 400)).toBeLessThan(3);
    expect((input(4) ?? 0) & StatusBit.OUTPUT_ON).toBe(StatusBit.OUTPUT_ON);
    expect(input(5)).toBeGreaterThan(0);
  });

  it('does not answer before start() or after stop()', () => {
    const { emulator, ask } = start();
    emulator.stop();
    expect(ask('01 04 00 00 00 01')).toBeUndefined();
    emulator.start();
    expect(ask('01 04 00 00 00 01')).toBeDefined();
  });

  it('counts frames for other slaves and dropped bytes, and answers none of them', () => {
    const { emulator, ask, askRaw } = start({ slaveId: 9 });
    expect(ask('01 04 00 00 00 01')).toBeUndefined();
    expect(ask('09 04 00 00 00 01')).toBeDefined();
    // A request with a bad CRC waits for the silence (20 ms), then is dropped unanswered.
    expect(askRaw(hex('09 04 00 00 00 01 00 00'))).toBeUndefined();
    vi.advanceTimersByTime(20);
    expect(emulator.stats).toEqual({ requests: 1, responses: 1, otherSlaves: 1, discarded: { bad_crc: 8, too_short: 0 } });
  });

  it('busy: exception 06 to every request in the window, normal answers after', () => {
    const { ask, wait } = start({ scenario: 'busy@0+60' });
    expect(ask('01 04 00 00 00 01')?.toString('hex')).toBe(withCrc(hex('01 84 06')).toString('hex'));
    expect(ask('01 06 00 00 1F 40')?.toString('hex')).toBe(withCrc(hex('01 86 06')).toString('hex'));
    wait(60);
    expect(ask('01 04 00 00 00 01')?.readUInt8(1)).toBe(0x04);
  });

  it('stall: no answer at all in the window, then answers again', () => {
    const { ask, wait } = start({ scenario: 'stall@20+30' });
    expect(ask('01 04 00 00 00 01')).toBeDefined();
    wait(20);
    expect(ask('01 04 00 00 00 01')).toBeUndefined();
    expect(ask('01 03 00 00 00 01')).toBeUndefined();
    wait(30);
    expect(ask('01 04 00 00 00 01')).toBeDefined();
  });

  it('crc-errors: every response in the window has its CRC inverted', () => {
    const { ask, wait } = start({ scenario: 'crc-errors@0+30' });
    for (let i = 0; i < 5; i++) {
      const response = ask('01 04 00 00 00 02') ?? Buffer.alloc(0);
      expect(response).toHaveLength(9);
      expect(hasValidCrc(response)).toBe(false);
      const fixed = Buffer.from(response);
      fixed.writeUInt16LE(fixed.readUInt16LE(7) ^ 0xffff, 7);
      expect(hasValidCrc(fixed)).toBe(true);
    }
    wait(30);
    expect(hasValidCrc(ask('01 04 00 00 00 02') ?? Buffer.alloc(0))).toBe(true);
  });

  it('partial: about 1 response in 4 is cut short; noise: about 1 in 4 comes after 8 to 32 random bytes', () => {
    const partial = start({ scenario: 'partial' });
    const whole = withCrc(hex('01 03 02 2134')); // the setpoint, 850.0
    const cuts = Array.from({ length: 200 }, () => partial.ask('01 03 00 00 00 01') ?? Buffer.alloc(0)).filter((r) => !r.equals(whole));
    expect(cuts.length).toBeGreaterThan(30);
    expect(cuts.length).toBeLessThan(70);
    cuts.forEach((cut) => expect(whole.subarray(0, cut.length)).toEqual(cut));
    stop?.();

    const noise = start({ scenario: 'noise' });
    const noisy = Array.from({ length: 200 }, () => noise.ask('01 03 00 00 00 01') ?? Buffer.alloc(0)).filter((r) => !r.equals(whole));
    expect(noisy.length).toBeGreaterThan(30);
    expect(noisy.length).toBeLessThan(70);
    for (const response of noisy) {
      expect(response.subarray(-whole.length)).toEqual(whole);
      expect(response.length - whole.length).toBeGreaterThanOrEqual(8);
      expect(response.length - whole.length).toBeLessThanOrEqual(32);
    }
  });

  it.each([
    ['tc-open', StatusBit.TC_OPEN],
    ['tc-short-gnd', StatusBit.TC_SHORT_GND],
    ['tc-short-vcc', StatusBit.TC_SHORT_VCC],
  ])('%s: PV 0x8000, float NaN, its status bits, output off (spec §12, §14)', (fault, bit) => {
    const { ask, wait, input } = start({ scenario: `${fault}@600+60` });
    wait(600);
    expect(ask('01 04 00 00 00 06')?.subarray(3, 15).toString('hex')).toMatch(
      new RegExp(`^80007fc00000....${(StatusBit.SENSOR_FAULT | bit).toString(16).padStart(4, '0')}0000$`),
    );
    wait(60);
    expect(input(0)).not.toBe(0x8000);
    expect((input(4) ?? 0) & 0x0f).toBe(0);
  });

  it('heater-failure sets the burnout bit; overheat sets the alarm bit once past the limit (spec §14)', () => {
    const failing = start({ scenario: 'heater-failure@600' });
    failing.wait(590);
    expect((failing.input(4) ?? 0) & StatusBit.HEATER_BURNOUT).toBe(0);
    failing.wait(20);
    expect((failing.input(4) ?? 0) & StatusBit.HEATER_BURNOUT).toBe(StatusBit.HEATER_BURNOUT);
    stop?.();

    const runaway = start({ scenario: 'overheat' });
    expect(runaway.ask('01 06 00 01 23 28')).toBeDefined(); // alarm limit 900.0 °C
    runaway.wait(7200);
    expect((runaway.input(4) ?? 0) & StatusBit.ALARM_HIGH).toBe(StatusBit.ALARM_HIGH);
    expect(fromTenths(runaway.input(0) ?? 0)).toBeGreaterThan(900);
  });

  it('shows a running program in bit 6 until the setpoint is written (spec §13, §18)', () => {
    const { ask, wait, input } = start({ program: [{ kind: 'ramp', to: 1000, minutes: 100 }] });
    wait(3000);
    expect((input(4) ?? 0) & StatusBit.PROGRAM_RUNNING).toBe(StatusBit.PROGRAM_RUNNING);
    expect(fromTenths(ask('01 03 00 00 00 01')?.readUInt16BE(3) ?? 0)).toBeCloseTo(20 + 980 / 2, 0);
    ask('01 06 00 00 0F A0'); // 400.0 °C
    wait(10);
    expect((input(4) ?? 0) & StatusBit.PROGRAM_RUNNING).toBe(0);
    expect(fromTenths(ask('01 03 00 00 00 01')?.readUInt16BE(3) ?? 0)).toBe(400);
  });

  it('gives the same registers for the same seed, sample after sample', () => {
    const series = () => {
      const running = start({ seed: 21, scenario: 'spikes' });
      const values = Array.from({ length: 100 }, () => {
        running.wait(10);
        return running.ask('01 04 00 00 00 06')?.toString('hex');
      });
      stop?.();
      return values;
    };
    expect(series()).toEqual(series());
  });
});
