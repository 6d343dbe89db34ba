import { describe, expect, it } from 'vitest';
import { ApiError } from '../../errors.js';
import { checkSilence, silenceMatches, silenceProblems } from './silences.js';
import type { NewSilence, Silence } from '../types.js';

const base: Silence = {
  id: 's1',
  matchers: { device: 'furnace-*', sensor: 'tc*', rule: 'overheat' },
  startsAt: 1000,
  endsAt: 2000,
  createdBy: 'ops',
  comment: '',
  createdAt: 0,
};

describe('silenceMatches', () => {
  it('matches by globs within its window, start inclusive and end exclusive', () => {
    const alert = { device: 'furnace-1', sensor: 'tc2', rule: 'overheat' };
    expect(silenceMatches(base, alert, 1000)).toBe(true);
    expect(silenceMatches(base, alert, 999)).toBe(false);
    expect(silenceMatches(base, alert, 2000)).toBe(false);
    expect(silenceMatches(base, { ...alert, device: 'kiln-1' }, 1500)).toBe(false);
    expect(silenceMatches(base, { ...alert, sensor: 'p1' }, 1500)).toBe(false);
    expect(silenceMatches(base, { ...alert, rule: 'overheat-2' }, 1500)).toBe(false);
  });

  it('covers a device-wide alert only with a sensor matcher of `*`', () => {
    const offline = { device: 'furnace-1', rule: 'overheat' };
    expect(silenceMatches(base, offline, 1500)).toBe(false);
    expect(silenceMatches({ ...base, matchers: { ...base.matchers, sensor: '*' } }, offline, 1500)).toBe(true);
  });
});

describe('checkSilence', () => {
  it('fills defaults (all matchers `*`, starts now, no comment) and hands the silence to save', () => {
    const saved: Silence[] = [];
    const silence = checkSilence(
      { matchers: { device: 'furnace-1' }, endsAt: 5000 },
      'ops',
      1000,
      (s) => saved.push(s),
      () => 'id-1',
    );
    expect(silence).toEqual({
      id: 'id-1',
      matchers: { device: 'furnace-1', sensor: '*', rule: '*' },
      startsAt: 1000,
      endsAt: 5000,
      createdBy: 'ops',
      comment: '',
      createdAt: 1000,
    });
    expect(saved).toEqual([silence]);
  });

  it('names every bad field at once and saves nothing', () => {
    const input = { matchers: { device: 'furnace/1', rule: '', colour: 'red' }, startsAt: 3000, endsAt: 2000 } as unknown as NewSilence;
    expect(silenceProblems(input, 1000)).toEqual([
      'matchers.device: expected 1 to 64 characters of A-Z a-z 0-9 _ - and *, got "furnace/1"',
      'matchers.rule: expected 1 to 64 characters of A-Z a-z 0-9 _ - and *, got ""',
      'matchers.colour: unknown matcher (use device, sensor, rule)',
      'endsAt: must be after startsAt (3000), got 2000',
    ]);
    const saved: Silence[] = [];
    expect(() => checkSilence(input, 'ops', 1000, (s) => saved.push(s))).toThrow(ApiError);
    expect(saved).toEqual([]);
  });

  it('refuses a silence that has already ended, or is not an object of matchers', () => {
    expect(silenceProblems({ matchers: {}, startsAt: 0, endsAt: 500 }, 1000)).toEqual([
      'endsAt: must be in the future (now is 1000), got 500',
    ]);
    expect(silenceProblems({ matchers: 'all', endsAt: 5000 } as unknown as NewSilence, 1000)).toEqual([
      'matchers: expected an object of device, sensor and rule globs',
    ]);
  });
});
