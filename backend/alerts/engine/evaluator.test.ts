import { describe, expect, it } from 'vitest';
import { type AlertInstance, instanceKey, newInstance } from '../alert-state.js';
import { evaluate, ruleApplies } from './evaluator.js';
import { reading, Run, rule } from '../../../test/helpers/alert-fixtures.js';

describe('ruleApplies', () => {
  it('matches device and sensor by glob; offline rules match the device alone', () => {
    const threshold = rule({ kind: 'threshold', above: 1, match: { device: 'furnace-*', sensor: 'tc*' } });
    expect(ruleApplies(threshold, 'furnace-2', 'tc3')).toBe(true);
    expect(ruleApplies(threshold, 'furnace-2', 'door')).toBe(false);
    expect(ruleApplies(threshold, 'kiln-1', 'tc1')).toBe(false);
    expect(ruleApplies(threshold, 'furnace-2', undefined)).toBe(false);
    const offline = rule({ kind: 'offline', match: { device: 'furnace-*', sensor: 'tc1' } });
    expect(ruleApplies(offline, 'furnace-9', undefined)).toBe(true);
  });
});

describe('evaluate', () => {
  it('keys instances by rule, device and sensor without collisions', () => {
    expect(instanceKey('r', 'd', 's')).not.toBe(instanceKey('r', 'd', undefined));
    expect(instanceKey('r', 'd-s', undefined)).not.toBe(instanceKey('r', 'd', 's'));
  });

  it('continues from a persisted state: a restart while firing neither re-fires nor forgets', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900, clearAbove: 880 }));
    run.feed(reading(0, 950));
    const restored = JSON.parse(JSON.stringify(run.instance)) as AlertInstance;
    const subject = rule({ kind: 'threshold', above: 900, clearAbove: 880 });
    const still = evaluate(subject, restored, reading(1000, 890), 1000);
    expect(still.transitions).toEqual([]);
    const resolved = evaluate(subject, still.instance, reading(2000, 870), 2000);
    expect(resolved.transitions.map((t) => `${t.from}→${t.to}`)).toEqual(['firing→resolved']);
  });

  it('ignores ticks for reading-driven rules and inputs they do not use', () => {
    const subject = rule({ kind: 'threshold', above: 900 });
    const start = newInstance('r1', 'furnace-1', 'tc1', 0);
    expect(evaluate(subject, start, { type: 'tick' }, 5000).instance).toBe(start);
    expect(evaluate(subject, start, { type: 'status', device: 'furnace-1', state: 'offline' }, 5000).instance).toBe(start);
  });

  it('never lets a late reading run a wait backwards', () => {
    const run = new Run(rule({ kind: 'threshold', above: 900, for: 5000 }));
    run.feed(reading(10_000, 950));
    run.feed(reading(4000, 950)); // older source time, arriving later
    run.feed(reading(14_999, 950));
    expect(run.count('firing')).toBe(0);
    run.feed(reading(15_000, 950));
    expect(run.count('firing')).toBe(1);
  });
});
