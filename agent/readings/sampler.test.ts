import { describe, expect, it } from 'vitest';
import { Sampler, type SamplingOptions } from './sampler.js';

const KEEP_EVERY_READING: SamplingOptions = { minIntervalMs: 0, deadband: 0, heartbeatMs: 0 };

/** Feeds [ts, value] pairs and returns the ones kept. */
function kept(sampler: Sampler, series: Array<[number, number | null]>, quality: 'good' | 'bad' = 'good'): number[] {
  return series.filter(([ts, value]) => sampler.accept(ts, value, quality)).map(([ts]) => ts);
}

describe('Sampler', () => {
  it('keeps every reading by default', () => {
    const sampler = new Sampler(KEEP_EVERY_READING);
    expect(
      kept(sampler, [
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 2],
      ]),
    ).toEqual([0, 1, 2, 3]);
  });

  it('drops readings closer than the minimum interval to the last one kept', () => {
    const sampler = new Sampler({ minIntervalMs: 1000, deadband: 0, heartbeatMs: 0 });
    expect(
      kept(sampler, [
        [0, 1],
        [400, 2],
        [999, 3],
        [1000, 4],
        [1500, 5],
        [2100, 6],
      ]),
    ).toEqual([0, 1000, 2100]);
  });

  it('drops changes inside the deadband, measured from the last value kept, not the last one seen', () => {
    const sampler = new Sampler({ minIntervalMs: 0, deadband: 1, heartbeatMs: 0 });
    // 800.4, 800.8 each differ from 800.0 by less than 1; 801.0 is 1 away from the last kept.
    expect(
      kept(sampler, [
        [0, 800],
        [1, 800.4],
        [2, 800.8],
        [3, 801],
        [4, 800.1],
        [5, 799.9],
      ]),
    ).toEqual([0, 3, 5]);
  });

  it('sends a heartbeat even when nothing changes', () => {
    const sampler = new Sampler({ minIntervalMs: 0, deadband: 5, heartbeatMs: 10_000 });
    expect(
      kept(sampler, [
        [0, 800],
        [5000, 801],
        [9999, 801],
        [10_000, 801],
        [15_000, 800],
        [20_000, 800],
      ]),
    ).toEqual([0, 10_000, 20_000]);
  });

  it('always keeps a change of quality, even inside the minimum interval', () => {
    const sampler = new Sampler({ minIntervalMs: 60_000, deadband: 100, heartbeatMs: 0 });
    expect(sampler.accept(0, 800, 'good')).toBe(true);
    expect(sampler.accept(10, null, 'bad')).toBe(true);
    expect(sampler.accept(20, null, 'bad')).toBe(false);
    expect(sampler.accept(30, 801, 'good')).toBe(true);
  });

  it('keeps a forced reading (read-now) without making it the reference of the regular cadence', () => {
    const sampler = new Sampler({ minIntervalMs: 0, deadband: 10, heartbeatMs: 0 });
    expect(sampler.accept(0, 100, 'good')).toBe(true);
    expect(sampler.accept(1, 101, 'good')).toBe(false);
    expect(sampler.accept(2, 102, 'good', true)).toBe(true);
    expect(sampler.accept(3, 109, 'good')).toBe(false); // 9 from the reference 100
    expect(sampler.accept(4, 111, 'good')).toBe(true); // 11 from 100, though only 9 from the forced 102
  });

  it('keeps the regular cadence under a minimum interval however often read-now asks', () => {
    const sampler = new Sampler({ minIntervalMs: 60_000, deadband: 0, heartbeatMs: 0 });
    const kept: number[] = [];
    // A regular reading every 10 s for 5 minutes, and a read-now every 45 s in between them.
    for (let ts = 0; ts <= 300_000; ts += 5_000) {
      const forced = ts % 10_000 !== 0 && (ts - 5_000) % 45_000 === 0;
      if (forced) expect(sampler.accept(ts, 800, 'good', true)).toBe(true);
      else if (ts % 10_000 === 0 && sampler.accept(ts, 800, 'good')) kept.push(ts);
    }
    expect(kept).toEqual([0, 60_000, 120_000, 180_000, 240_000, 300_000]);
  });

  it('changes its minimum interval at run time without touching the settings it was made from', () => {
    const settings = { minIntervalMs: 100, deadband: 0, heartbeatMs: 0 };
    const sampler = new Sampler(settings);
    expect(sampler.setMinInterval(1000)).toBe(100);
    expect(sampler.minIntervalMs).toBe(1000);
    expect(settings.minIntervalMs).toBe(100);
    expect(
      kept(sampler, [
        [0, 1],
        [500, 2],
        [1000, 3],
      ]),
    ).toEqual([0, 1000]);
  });
});
