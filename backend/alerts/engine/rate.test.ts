import { describe, expect, it } from 'vitest';
import { reading, Run, rule } from '../../../test/helpers/alert-fixtures.js';

// Window of two minutes, limit 50 °C per minute: a furnace heating faster cracks ware.
const heatingTooFast = rule({ kind: 'rate', above: 50, window: 120_000 });

describe('rate rule', () => {
  it('fires when the change per minute over the window exceeds the limit, and resolves when it slows', () => {
    const run = new Run(heatingTooFast);
    // 40 °C per minute: under the limit.
    for (let ts = 0; ts <= 120_000; ts += 10_000) run.feed(reading(ts, 20 + (ts / 60_000) * 40));
    expect(run.transitions).toEqual([]);
    // Then 120 °C per minute for two minutes: the window sees it once it outweighs the slow start.
    let value = 100;
    for (let ts = 130_000; ts <= 240_000; ts += 10_000) run.feed(reading(ts, (value += 20)));
    expect(run.path).toEqual(['inactive→firing']);
    // Holding steady: the window's slope falls back under the limit.
    for (let ts = 250_000; ts <= 400_000; ts += 10_000) run.feed(reading(ts, value));
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved']);
  });

  it('waits for half a window of readings before judging', () => {
    const run = new Run(heatingTooFast);
    run.feed(reading(0, 20));
    run.feed(reading(1000, 40)); // 1200 °C per minute, but over one second only
    expect(run.transitions).toEqual([]);
    run.feed(reading(60_000, 200));
    expect(run.path).toEqual(['inactive→firing']);
  });

  it('watches a fall with `below`', () => {
    const run = new Run(rule({ kind: 'rate', below: -30, window: 60_000 }));
    run.feed(reading(0, 1000));
    run.feed(reading(30_000, 995)); // -10 per minute: judged, but within limits
    run.feed(reading(60_000, 900));
    expect(run.path).toEqual(['inactive→firing']);
    expect(run.transitions[0]?.message).toContain('-100.0 per minute');
  });

  it('skips bad readings and readings older than the newest one', () => {
    const run = new Run(heatingTooFast);
    run.feed(reading(0, 20));
    run.feed(reading(30_000, null));
    run.feed(reading(60_000, 30));
    run.feed(reading(10_000, 500)); // out of order: would fake a steep slope
    run.feed(reading(70_000, 31));
    expect(run.transitions).toEqual([]);
    expect(run.instance.memory.samples).toEqual([
      { ts: 0, value: 20 },
      { ts: 60_000, value: 30 },
      { ts: 70_000, value: 31 },
    ]);
  });
});
