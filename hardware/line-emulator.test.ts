import { afterEach, describe, expect, it, vi } from 'vitest';
import { LineEmulator, type LineEmulatorOptions } from './line-emulator.js';
import { lineChecksum } from './line-protocol.js';
import { parseScenario } from './scenario.js';
import { resampleUart } from './uart.js';

/** What the device sends at each tick: `undefined` when it sent nothing. */
function run(options: Partial<Omit<LineEmulatorOptions, 'scenario'>> & { scenario?: string }, ticks: number): Array<string | undefined> {
  const sent: Array<string | undefined> = [];
  let last: string | undefined;
  const { scenario, ...rest } = options;
  // One tick is 10 simulated seconds unless told otherwise.
  const emulator = new LineEmulator({
    seed: 7,
    intervalMs: 1000,
    speed: 10,
    ...rest,
    scenario: parseScenario(scenario ?? ''),
    write: (data) => (last = data.toString('latin1')),
  });
  for (let i = 0; i < ticks; i++) {
    last = undefined;
    emulator.tick();
    sent.push(last);
  }
  return sent;
}

/** Spec §3: a value or fault line with the cold junction, and the checksum when asked. */
const SPEC_LINE = /^(T=-?\d{1,4}\.\d|ERR=(OPEN|SHORT_GND|SHORT_VCC)),CJ=-?\d{1,3}\.\d(\*[0-9A-F]{2})?\r\n$/;
const celsius = (line: string | undefined) => Number(/^T=(-?[\d.]+),/.exec(line ?? '')?.[1] ?? Number.NaN);
/** Tick i (0-based) is at simulated second 10 × (i + 1). */
const inWindow = (i: number, from: number, until: number) => (i + 1) * 10 >= from && (i + 1) * 10 < until;

describe('LineEmulator (spec §3 to §7)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes one line per interval once started, and nothing after stop()', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const written: string[] = [];
    const emulator = new LineEmulator({ seed: 3, intervalMs: 500, speed: 60, write: (data) => written.push(data.toString()) });
    emulator.start();
    emulator.start(); // a second start must not double the rate
    vi.advanceTimersByTime(499);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(written).toHaveLength(1);
    vi.advanceTimersByTime(500 * 99);
    expect(written).toHaveLength(100);
    expect(emulator.lines).toBe(100);
    emulator.stop();
    vi.advanceTimersByTime(10_000);
    expect(written).toHaveLength(100);
  });

  it('speaks spec lines only, heating from ambient toward the setpoint', () => {
    const lines = run({}, 360); // one simulated hour
    lines.forEach((line) => expect(line).toMatch(SPEC_LINE));
    expect(celsius(lines[0])).toBeLessThan(30);
    expect(celsius(lines.at(-1))).toBeGreaterThan(700);
  });

  it('writes the same bytes for the same seed, faults included, and other bytes for another seed', () => {
    const scenario = 'spikes,noise@100+200,partial@300+200,stuck@600+60';
    expect(run({ seed: 11, scenario }, 100)).toEqual(run({ seed: 11, scenario }, 100));
    const other = run({ seed: 12, scenario }, 100);
    expect(other.filter((line, i) => line !== run({ seed: 11, scenario }, 100)[i]).length).toBeGreaterThan(90);
  });

  it('ends every line with the checksum of spec §6 when asked', () => {
    const lines = run({ checksum: true }, 50);
    for (const line of lines) {
      const match = /^(.*)\*([0-9A-F]{2})\r\n$/.exec(line ?? '');
      expect(match?.[2]).toBe(lineChecksum(match?.[1] ?? 'x'));
    }
  });

  it.each([
    ['tc-open', 'ERR=OPEN'],
    ['tc-short-gnd', 'ERR=SHORT_GND'],
    ['tc-short-vcc', 'ERR=SHORT_VCC'],
  ])('%s sends %s lines exactly while the fault lasts (spec §5)', (fault, head) => {
    const lines = run({ scenario: `${fault}@60+120` }, 30);
    const baseline = run({}, 30);
    lines.forEach((line, i) => {
      if (inWindow(i, 60, 180)) expect(line).toMatch(new RegExp(`^${head},CJ=\\d+\\.\\d\\r\\n$`));
      else expect(line).toBe(baseline[i]);
    });
    expect(lines.filter((line) => line?.startsWith('ERR=')).length).toBe(12);
  });

  it('stuck: T keeps the value it had when the fault began', () => {
    const lines = run({ scenario: 'stuck@100+100' }, 30);
    const baseline = run({}, 30);
    const stuck = lines.filter((_, i) => inWindow(i, 100, 200)).map(celsius);
    expect(stuck).toHaveLength(10);
    expect(new Set(stuck)).toEqual(new Set([celsius(baseline[9])]));
    lines.forEach((line, i) => !inWindow(i, 100, 200) && expect(line).toBe(baseline[i]));
  });

  it('spikes: about 1 reading in 10 is off by 200 to 600 °C; the others are untouched', () => {
    const lines = run({ scenario: 'spikes' }, 500);
    const baseline = run({}, 500);
    const offsets = lines.map((line, i) => celsius(line) - celsius(baseline[i])).filter((offset) => offset !== 0);
    expect(offsets.length).toBeGreaterThan(25);
    expect(offsets.length).toBeLessThan(80);
    offsets.forEach((offset) => expect(Math.abs(offset)).toBeGreaterThanOrEqual(199.95));
    offsets.forEach((offset) => expect(Math.abs(offset)).toBeLessThanOrEqual(600.05));
  });

  it('stall: nothing at all during the window, then the lines come back', () => {
    const lines = run({ scenario: 'stall@50+50' }, 20);
    const baseline = run({}, 20);
    lines.forEach((line, i) => expect(line).toBe(inWindow(i, 50, 100) ? undefined : baseline[i]));
  });

  it('crc-errors: lines in the window carry the inverse of their checksum', () => {
    const lines = run({ checksum: true, scenario: 'crc-errors@50+50' }, 20);
    const baseline = run({ checksum: true }, 20);
    lines.forEach((line, i) => {
      if (!inWindow(i, 50, 100)) return expect(line).toBe(baseline[i]);
      const good = /\*([0-9A-F]{2})\r\n$/.exec(baseline[i] ?? '')?.[1] ?? '';
      const inverse = (Number.parseInt(good, 16) ^ 0xff).toString(16).toUpperCase().padStart(2, '0');
      expect(line).toBe(baseline[i]?.replace(`*${good}`, `*${inverse}`));
    });
  });

  it('partial: about 1 line in 4 is cut to its head, without CR LF', () => {
    const lines = run({ scenario: 'partial' }, 400);
    const baseline = run({}, 400);
    let cut = 0;
    lines.forEach((line, i) => {
      const full = baseline[i] ?? '';
      if (line === full) return;
      cut++;
      expect(full.startsWith(line ?? 'x')).toBe(true);
      expect(line?.length).toBeGreaterThanOrEqual(1);
      expect(line?.length).toBeLessThanOrEqual(full.length - 3);
    });
    expect(cut).toBeGreaterThan(70);
    expect(cut).toBeLessThan(130);
  });

  it('noise: about 1 line in 4 is preceded by a burst of 8 to 32 random bytes', () => {
    const lines = run({ scenario: 'noise' }, 400);
    const baseline = run({}, 400);
    let bursts = 0;
    lines.forEach((line, i) => {
      const full = baseline[i] ?? '';
      if (line === full) return;
      bursts++;
      expect(line?.endsWith(full)).toBe(true);
      const burst = (line?.length ?? 0) - full.length;
      expect(burst).toBeGreaterThanOrEqual(8);
      expect(burst).toBeLessThanOrEqual(32);
    });
    expect(bursts).toBeGreaterThan(70);
    expect(bursts).toBeLessThan(130);
  });

  it('baud-mismatch: lines in the window are what a 9600-baud UART reads of them sent at 19200', () => {
    const lines = run({ scenario: 'baud-mismatch@50+50' }, 20);
    const baseline = run({}, 20);
    lines.forEach((line, i) => {
      const expected = inWindow(i, 50, 100)
        ? resampleUart(Buffer.from(baseline[i] ?? '', 'latin1'), 19200, 9600).toString('latin1') || undefined
        : baseline[i];
      expect(line).toBe(expected);
    });
    expect(lines.filter((_, i) => inWindow(i, 50, 100)).every((line) => !SPEC_LINE.test(line ?? ''))).toBe(true);
  });

  it('overheat runs away past the setpoint; heater-failure cools the furnace (spec §19.3)', () => {
    // 30 simulated seconds a line: 600 lines are five hours.
    const runaway = run({ speed: 30, scenario: 'overheat' }, 600).map(celsius);
    expect(Math.max(...runaway)).toBeGreaterThan(1400);
    const failing = run({ speed: 30, scenario: 'heater-failure@2h' }, 600).map(celsius);
    const atFailure = failing[239] ?? 0;
    expect(atFailure).toBeGreaterThan(840);
    expect(failing.at(-1)).toBeLessThan(atFailure - 300);
  });
});
