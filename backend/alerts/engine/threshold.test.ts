import { describe, expect, it } from 'vitest';
import { AlertTransition } from '../../../contract/index.js';
import { compileValidator } from '../../../contract/index.js';
import { newInstance } from '../alert-state.js';
import { evaluate } from './evaluator.js';
import { reading, Run, rule } from '../../../test/helpers/alert-fixtures.js';

const overheat = rule({ kind: 'threshold', above: 900, clearAbove: 880, for: 5000 });

describe('threshold rule', () => {
  it('goes pending on the first breach and fires exactly once after `for`, on source time', () => {
    const run = new Run(overheat);
    run.feed(reading(1000, 850));
    run.feed(reading(2000, 905));
    expect(run.instance.phase).toBe('pending');
    run.feed(reading(6000, 910));
    expect(run.count('firing')).toBe(0);
    // Arrival time (`now`) is irrelevant: the readings' own times say when `for` has elapsed.
    run.feed(reading(7000, 912), 999_999);
    run.feed(reading(8000, 915));
    run.feed(reading(9000, 920));
    expect(run.path).toEqual(['inactive→pending', 'pending→firing']);
    expect(run.transitions[1]).toMatchObject({
      ts: 7000,
      value: 912,
      severity: 'critical',
      rule: 'r1',
      device: 'furnace-1',
      sensor: 'tc1',
    });
  });

  it('does not flap while the value hovers between the limit and the clear level, and resolves once below it', () => {
    const run = new Run(overheat);
    for (const [ts, value] of [
      [0, 901],
      [5000, 902],
      [6000, 899],
      [7000, 901],
      [8000, 885],
      [9000, 900.5],
      [10_000, 881],
    ] as const) {
      run.feed(reading(ts, value));
    }
    expect(run.path).toEqual(['inactive→pending', 'pending→firing']);
    run.feed(reading(11_000, 879));
    run.feed(reading(12_000, 870));
    run.feed(reading(13_000, 890));
    expect(run.path).toEqual(['inactive→pending', 'pending→firing', 'firing→resolved']);
    expect(run.count('resolved')).toBe(1);
  });

  it('returns to inactive without firing when the value drops below the limit before `for` elapses', () => {
    const run = new Run(overheat);
    run.feed(reading(0, 905));
    run.feed(reading(3000, 870));
    run.feed(reading(6000, 870));
    expect(run.path).toEqual(['inactive→pending', 'pending→inactive']);
    // A new breach starts the wait again from its own start.
    run.feed(reading(7000, 905));
    run.feed(reading(11_000, 905));
    expect(run.count('firing')).toBe(0);
    run.feed(reading(12_000, 905));
    expect(run.count('firing')).toBe(1);
  });

  it('fires at once without `for`, and watches the lower limit with its own clear level', () => {
    const run = new Run(rule({ kind: 'threshold', below: 100, clearBelow: 120 }));
    run.feed(reading(0, 99));
    run.feed(reading(1000, 110));
    run.feed(reading(2000, 121));
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved']);
  });

  it('never triggers or clears on a bad reading', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900 }));
    run.feed(reading(0, null));
    run.feed(reading(1000, 950, { quality: 'bad' }));
    expect(run.transitions).toEqual([]);
    run.feed(reading(2000, 950));
    run.feed(reading(3000, null));
    expect(run.path).toEqual(['inactive→firing']);
  });

  it('keeps firing through a short clear with keepFiringFor, and resolves once the clear lasts', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900, keepFiringFor: 10_000 }));
    run.feed(reading(0, 950));
    run.feed(reading(1000, 850));
    run.feed(reading(5000, 950));
    run.feed(reading(6000, 850));
    run.feed(reading(15_000, 850));
    expect(run.path).toEqual(['inactive→firing']);
    run.feed(reading(16_000, 850));
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved']);
  });

  it('sends a reminder every repeatEvery while firing, and none after resolving', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900, repeatEvery: 60_000 }));
    for (let ts = 0; ts <= 150_000; ts += 10_000) run.feed(reading(ts, 950));
    expect(run.path).toEqual(['inactive→firing', 'firing→firing', 'firing→firing']);
    expect(run.transitions.map((t) => t.ts)).toEqual([0, 60_000, 120_000]);
    run.feed(reading(200_000, 800));
    run.feed(reading(300_000, 800));
    expect(run.count('firing')).toBe(3);
    expect(run.count('resolved')).toBe(1);
  });

  it('fires again after resolving when the condition returns', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900 }));
    run.feed(reading(0, 950));
    run.feed(reading(1000, 850));
    run.feed(reading(2000, 950));
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved', 'resolved→firing']);
  });

  it('makes transitions valid under the contract, each with its own id, without touching the previous state', () => {
    const valid = compileValidator(AlertTransition);
    const subject = rule({ kind: 'threshold', above: 900 });
    const before = newInstance('r1', 'furnace-1', 'tc1', 0);
    const snapshot = structuredClone(before);
    const first = evaluate(subject, before, reading(0, 950), 0);
    const second = evaluate(subject, first.instance, reading(1000, 850), 1000);
    const all = [...first.transitions, ...second.transitions];
    for (const t of all) expect(valid(t)).toEqual({ ok: true, value: t });
    expect(new Set(all.map((t) => t.id)).size).toBe(2);
    expect(before).toEqual(snapshot);
  });

  it('ignores readings of other sensors and devices', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900 }));
    run.feed(reading(0, 950, { sensor: 'tc2' }));
    run.feed(
      {
        type: 'reading',
        device: 'furnace-2',
        reading: { seq: 1, ts: 0, sensor: 'tc1', value: 950, unit: 'C', quality: 'good', clock: 'synced', replay: false },
      },
      0,
    );
    expect(run.transitions).toEqual([]);
  });

  it('runs `for`, keepFiringFor and reminders on the timer between the readings of a slow sensor', () => {
    // The agent's clock is 5 s ahead of the backend's: ticks count from the newest reading's source time.
    const skew = 5000;
    const run = new Run(rule({ kind: 'threshold', above: 900, for: 30_000, keepFiringFor: 20_000, repeatEvery: 60_000 }));
    run.feed(reading(skew, 950), 0);
    run.feed({ type: 'tick' }, 29_000);
    expect(run.path).toEqual(['inactive→pending']);
    run.feed({ type: 'tick' }, 30_000);
    expect(run.path).toEqual(['inactive→pending', 'pending→firing']);
    expect(run.transitions[1]?.ts).toBe(30_000 + skew);
    run.feed({ type: 'tick' }, 90_000);
    expect(run.count('firing')).toBe(2);
    run.feed(reading(100_000 + skew, 800), 100_000);
    run.feed({ type: 'tick' }, 119_000);
    expect(run.count('resolved')).toBe(0);
    run.feed({ type: 'tick' }, 120_000);
    expect(run.path.slice(-1)).toEqual(['firing→resolved']);
  });

  it('does not move its clock back for a replayed reading, nor tick before any reading', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900, for: 10_000 }));
    run.feed({ type: 'tick' }, 50_000);
    expect(run.instance.clock).toBeUndefined();
    run.feed(reading(100_000, 950), 100_000);
    run.feed(reading(40_000, 950, { replay: true }), 101_000);
    run.feed({ type: 'tick' }, 109_000);
    expect(run.path).toEqual(['inactive→pending']);
    run.feed({ type: 'tick' }, 110_000);
    expect(run.path).toEqual(['inactive→pending', 'pending→firing']);
  });
});
