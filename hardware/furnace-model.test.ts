import { afterEach, describe, expect, it, vi } from 'vitest';
import { LineEmulator } from './emulator.js';
import { FurnaceModel, type FurnaceModelOptions } from './furnace-model.js';

/** `steps` readings of a model advanced one simulated second at a time. */
function series(options: FurnaceModelOptions, steps: number, stepSeconds = 1): number[] {
  const model = new FurnaceModel(options);
  return Array.from({ length: steps }, () => model.step(stepSeconds));
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

describe('FurnaceModel', () => {
  it('gives the identical series for the same seed', () => {
    const a = series({ seed: 42 }, 2000);
    const b = series({ seed: 42 }, 2000);
    expect(b).toEqual(a);
  });

  it('gives a different series for a different seed', () => {
    const a = series({ seed: 42 }, 100);
    const b = series({ seed: 43 }, 100);
    expect(b).not.toEqual(a);
    // Different at (almost) every step, not only somewhere.
    expect(a.filter((value, i) => value !== b[i]).length).toBeGreaterThan(90);
  });

  it('starts at ambient, heats toward the setpoint and settles near it', () => {
    const hours3 = series({ seed: 7 }, 3 * 3600);
    const [first] = hours3;
    expect(first).toBeGreaterThan(17);
    expect(first).toBeLessThan(23);
    // Heating: each simulated 10 minutes of the first hour is warmer than the one before.
    const firstHourMeans = Array.from({ length: 6 }, (_, i) => mean(hours3.slice(i * 600, (i + 1) * 600)));
    firstHourMeans.slice(1).forEach((value, i) => expect(value).toBeGreaterThan(firstHourMeans[i] ?? Infinity));
    // Settled: the last simulated 10 minutes average within ±15 °C of 850, with no reading far off.
    const last10min = hours3.slice(-600);
    expect(Math.abs(mean(last10min) - 850)).toBeLessThan(15);
    last10min.forEach((value) => expect(Math.abs(value - 850)).toBeLessThan(15));
    // And it never runs away past the setpoint on the way up.
    expect(Math.max(...hours3)).toBeLessThan(850 + 15);
  });

  it('honours ambient, setpoint and noise options', () => {
    const quiet = series({ seed: 1, ambient: 30, setpoint: 400, noise: 0 }, 3 * 3600);
    expect(quiet[0]).toBeGreaterThan(30);
    expect(quiet[0]).toBeLessThan(31);
    expect(Math.abs(mean(quiet.slice(-600)) - 400)).toBeLessThan(5);
    // Without noise the settled readings barely move from one second to the next.
    const settled = quiet.slice(-600);
    expect(Math.max(...settled) - Math.min(...settled)).toBeLessThan(1);
  });
});

describe('LineEmulator', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes one protocol line per interval, and nothing after stop()', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const written: string[] = [];
    const emulator = new LineEmulator({ seed: 3, intervalMs: 500, speed: 60, write: (line) => written.push(line) });
    emulator.start();
    emulator.start(); // a second start must not double the rate
    vi.advanceTimersByTime(499);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(written).toHaveLength(1);
    vi.advanceTimersByTime(500 * 99);
    expect(written).toHaveLength(100);
    expect(emulator.lines).toBe(100);
    written.forEach((line) => expect(line).toMatch(/^T=-?\d+\.\d\r\n$/));
    // speed 60: 30 simulated s per line, so 100 lines cover 50 simulated minutes: it is heating.
    const celsius = written.map((line) => Number(line.slice(2)));
    expect(celsius.at(-1)).toBeGreaterThan((celsius[0] ?? Infinity) + 100);

    emulator.stop();
    vi.advanceTimersByTime(10_000);
    expect(written).toHaveLength(100);
  });

  it('writes the same lines as the model with the same seed', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const written: string[] = [];
    const emulator = new LineEmulator({ seed: 9, intervalMs: 1000, write: (line) => written.push(line) });
    emulator.start();
    vi.advanceTimersByTime(20_000);
    emulator.stop();
    expect(written).toEqual(series({ seed: 9 }, 20).map((celsius) => `T=${celsius.toFixed(1)}\r\n`));
  });
});
