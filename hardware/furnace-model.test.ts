import { describe, expect, it } from 'vitest';
import { parseProgram } from './firing-program.js';
import { FurnaceModel, type FurnaceModelOptions } from './furnace-model.js';

/** `steps` readings of a model advanced `stepSeconds` of simulated time at a time. */
function series(options: FurnaceModelOptions, steps: number, stepSeconds = 1): number[] {
  const model = new FurnaceModel(options);
  return Array.from({ length: steps }, () => model.step(stepSeconds));
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

describe('FurnaceModel (spec §17)', () => {
  it('gives the identical series for the same seed', () => {
    expect(series({ seed: 42 }, 2000)).toEqual(series({ seed: 42 }, 2000));
  });

  it('gives a different series for a different seed, at (almost) every step', () => {
    const a = series({ seed: 42 }, 100);
    const b = series({ seed: 43 }, 100);
    expect(a.filter((value, i) => value !== b[i]).length).toBeGreaterThan(90);
  });

  it('advances in fixed steps: the readings at the same simulated times do not depend on how time was handed out', () => {
    // 600 s in steps of 60 s, and the same 600 s in calls of 0.25 s, 0.5 s and 0.25 s: 60 s = 180 small calls.
    const coarse = series({ seed: 5 }, 10, 60);
    const model = new FurnaceModel({ seed: 5 });
    const fine: number[] = [];
    for (let minute = 0; minute < 10; minute++) {
      for (let i = 0; i < 60; i++) {
        model.advance(0.25);
        model.advance(0.5);
        model.advance(0.25);
      }
      fine.push(model.read());
      expect(model.time).toBe((minute + 1) * 60);
    }
    expect(fine).toEqual(coarse);
  });

  it('reads the same value however often it is read between two steps', () => {
    const model = new FurnaceModel({ seed: 5 });
    model.advance(30);
    expect([model.read(), model.read(), model.read()]).toEqual([model.read(), model.read(), model.read()]);
  });

  it('starts at ambient, heats toward the setpoint and settles near it without overshoot', () => {
    const hours3 = series({ seed: 7 }, 3 * 3600);
    expect(hours3[0]).toBeGreaterThan(18);
    expect(hours3[0]).toBeLessThan(22);
    // Heating: each simulated 10 minutes of the first hour is warmer than the one before.
    const firstHourMeans = Array.from({ length: 6 }, (_, i) => mean(hours3.slice(i * 600, (i + 1) * 600)));
    firstHourMeans.slice(1).forEach((value, i) => expect(value).toBeGreaterThan(firstHourMeans[i] ?? Infinity));
    // Settled: the last simulated 10 minutes within ±2 °C of 850, and never far past it on the way.
    hours3.slice(-600).forEach((value) => expect(Math.abs(value - 850)).toBeLessThan(2));
    expect(Math.max(...hours3)).toBeLessThan(850 + 5);
  });

  it('honours ambient, setpoint and noise options', () => {
    const quiet = series({ seed: 1, ambient: 30, setpoint: 400, noise: 0 }, 3 * 3600);
    expect(quiet[0]).toBeGreaterThan(30);
    expect(quiet[0]).toBeLessThan(31);
    const settled = quiet.slice(-600);
    expect(Math.abs(mean(settled) - 400)).toBeLessThan(1);
    expect(Math.max(...settled) - Math.min(...settled)).toBeLessThan(0.1);
  });

  it('runs a firing program: ramps to 1200 °C, holds it within tolerance, then cools (spec §18)', () => {
    const model = new FurnaceModel({ seed: 3, program: parseProgram('ramp:1200:240,hold:60,cool') });
    const at = (minutes: number) => {
      model.advance(minutes * 60 - model.time);
      return model.read();
    };
    expect(model.programRunning).toBe(true);
    // Half-way up the ramp the furnace follows the setpoint within a few degrees.
    expect(model.workingSetpoint).toBeCloseTo(20, 5);
    expect(Math.abs(at(120) - (20 + 1180 / 2))).toBeLessThan(15);
    // During the hold it is at 1200 ± 15 °C.
    for (let minute = 250; minute < 300; minute += 5) expect(Math.abs(at(minute) - 1200)).toBeLessThan(15);
    expect(model.workingSetpoint).toBe(1200);
    // Cooling: heater off, the temperature falls steadily.
    const cooling = [at(310), at(360), at(420), at(600)];
    expect(model.workingSetpoint).toBeUndefined();
    expect(model.output).toBe(0);
    cooling.slice(1).forEach((value, i) => expect(value).toBeLessThan((cooling[i] ?? 0) - 20));
  });

  it('ends the program when the setpoint is written', () => {
    const model = new FurnaceModel({ seed: 3, program: parseProgram('standard') });
    model.advance(600);
    model.setpoint = 300;
    expect(model.programRunning).toBe(false);
    expect(model.workingSetpoint).toBe(300);
  });

  it('runs away with a heater stuck on, and cools with a failed heater (spec §19.3)', () => {
    const runaway = new FurnaceModel({ seed: 2 });
    runaway.heater = 'stuck-on';
    runaway.advance(4 * 3600);
    expect(runaway.read()).toBeGreaterThan(1500);
    expect(runaway.output).toBe(0); // the controller asks for nothing; the heater does not listen

    const failed = new FurnaceModel({ seed: 2 });
    failed.advance(2 * 3600);
    const hot = failed.read();
    failed.heater = 'failed';
    failed.advance(3600);
    expect(failed.read()).toBeLessThan(hot - 200);
    expect(failed.output).toBe(1); // the controller asks for all it has
  });
});
