import { describe, expect, it } from 'vitest';
import { reading, Run, rule } from '../../../test/helpers/alert-fixtures.js';

const tick = { type: 'tick' } as const;

describe('stale rule', () => {
  const stale = rule({ kind: 'stale', after: 30_000 });

  it('fires on the first tick at its timeout after the last arrival, and resolves on the next reading', () => {
    const run = new Run(stale);
    // Source times lag arrival by an hour (an unsynced clock): only arrival counts.
    run.feed(reading(0, 800), 3_600_000);
    run.feed(tick, 3_610_000);
    run.feed(tick, 3_629_999);
    expect(run.transitions).toEqual([]);
    run.feed(tick, 3_630_000);
    expect(run.path).toEqual(['inactive→firing']);
    expect(run.transitions[0]?.ts).toBe(3_630_000);
    run.feed(tick, 3_640_000);
    expect(run.count('firing')).toBe(1);
    run.feed(reading(50_000, 800), 3_650_000);
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved']);
  });

  it('is not refreshed by late replays', () => {
    const run = new Run(stale);
    run.feed(reading(0, 800), 0);
    run.feed(reading(1000, 800, { replay: true }), 25_000);
    run.feed(tick, 30_000);
    expect(run.path).toEqual(['inactive→firing']);
    run.feed(reading(2000, 800, { replay: true }), 31_000);
    expect(run.path).toEqual(['inactive→firing']);
  });

  it('says nothing before the first reading, and honours `for` on ticks', () => {
    const run = new Run(rule({ kind: 'stale', after: 10_000, for: 5000 }));
    run.feed(tick, 100_000);
    expect(run.transitions).toEqual([]);
    run.feed(reading(0, 1), 100_000);
    run.feed(tick, 110_000);
    run.feed(tick, 114_000);
    run.feed(tick, 115_000);
    expect(run.path).toEqual(['inactive→pending', 'pending→firing']);
  });
});

describe('offline rule', () => {
  const offline = rule({ kind: 'offline', match: { device: 'furnace-*' }, for: 10_000 });
  const status = (state: 'online' | 'offline') => ({ type: 'status', device: 'furnace-1', state }) as const;

  it('fires when the will says offline and `for` passes on ticks, and resolves on the next birth', () => {
    const run = new Run(offline, null);
    run.feed(status('online'), 0);
    run.feed(status('offline'), 1000);
    run.feed(tick, 5000);
    expect(run.path).toEqual(['inactive→pending']);
    run.feed(tick, 11_000);
    run.feed(tick, 20_000);
    run.feed(status('online'), 30_000);
    expect(run.path).toEqual(['inactive→pending', 'pending→firing', 'firing→resolved']);
    expect(run.transitions[1]).not.toHaveProperty('sensor');
  });

  it('does not fire when the agent comes back within `for`', () => {
    const run = new Run(offline, null);
    run.feed(status('offline'), 0);
    run.feed(status('online'), 5000);
    run.feed(tick, 20_000);
    expect(run.count('firing')).toBe(0);
  });
});

describe('sensor rule', () => {
  const sensorRule = rule({ kind: 'sensor' });
  const health = (state: 'ok' | 'faulty' | 'disconnected') =>
    ({ type: 'sensor-state', device: 'furnace-1', sensor: 'tc1', state, reason: 'open circuit' }) as const;

  it('fires on a health report other than ok and resolves on ok', () => {
    const run = new Run(sensorRule);
    run.feed(health('ok'), 0);
    run.feed(health('faulty'), 1000);
    run.feed(health('disconnected'), 2000);
    run.feed(health('ok'), 3000);
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved']);
    expect(run.transitions[0]?.message).toContain('faulty: open circuit');
  });

  it('fires on bad-quality readings and resolves on good ones', () => {
    const run = new Run(sensorRule);
    run.feed(reading(0, 800));
    run.feed(reading(1000, null));
    run.feed(reading(2000, null));
    run.feed(reading(3000, 800, { quality: 'uncertain' }));
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved']);
  });

  it('stays firing while either source says the sensor is unwell', () => {
    const run = new Run(sensorRule);
    run.feed(health('faulty'), 0);
    run.feed(reading(1000, 800), 1000);
    expect(run.path).toEqual(['inactive→firing']);
    run.feed(health('ok'), 2000);
    expect(run.path).toEqual(['inactive→firing', 'firing→resolved']);
  });
});
