import { describe, expect, it } from 'vitest';
import { parseRules } from './rule-schema.js';

const base = { match: { device: 'furnace-*', sensor: 'tc1' }, severity: 'critical' };

describe('parseRules', () => {
  it('accepts every kind and fills defaults', () => {
    const parsed = parseRules([
      { ...base, id: 'overheat', kind: 'threshold', above: 900, clearAbove: 880, for: 5000, labels: { team: 'kiln' } },
      { ...base, id: 'too-cold', kind: 'threshold', below: 100, clearBelow: 120 },
      { ...base, id: 'heating-fast', kind: 'rate', above: 50, window: 120_000, repeatEvery: 600_000 },
      { ...base, id: 'silent', kind: 'stale', after: 30_000 },
      { id: 'agent-gone', kind: 'offline', match: { device: '*' }, severity: 'warning', keepFiringFor: 1000 },
      { id: 'probe', kind: 'sensor', match: { device: 'furnace-1' }, severity: 'info' },
    ]);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.rules).toHaveLength(6);
    expect(parsed.rules[0]).toMatchObject({ for: 5000, keepFiringFor: 0, labels: { team: 'kiln' } });
    expect(parsed.rules[5]).toMatchObject({ for: 0, keepFiringFor: 0, labels: {}, match: { device: 'furnace-1', sensor: '*' } });
    expect(Object.isFrozen(parsed.rules)).toBe(true);
  });

  it('reports every problem at once, each naming the rule and field', () => {
    const parsed = parseRules([
      { ...base, id: 'ok-one', kind: 'threshold', above: 900 },
      { ...base, id: 'no-limit', kind: 'threshold' },
      { ...base, id: 'wrong-side', kind: 'threshold', above: 900, clearAbove: 950, below: 100, clearBelow: 50 },
      { ...base, id: 'bad-sev', kind: 'stale', severity: 'urgent', after: -1, abvoe: 3 },
      { ...base, id: 'what', kind: 'magic' },
      { ...base, id: 'bad id!', kind: 'offline' },
      { ...base, id: 'ok-one', kind: 'sensor' },
      { ...base, id: 'glob', kind: 'sensor', match: { device: 'furnace/#' } },
      { ...base, id: 'slow', kind: 'rate', window: 60_000, for: 1.5 },
      'not a rule',
    ]);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toEqual([
      'rules[1].above (rule no-limit): a threshold rule needs `above`, `below` or both',
      'rules[2].clearAbove (rule wrong-side): must be at or below above (900), got 950',
      'rules[2].clearBelow (rule wrong-side): must be at or above below (100), got 50',
      'rules[3].abvoe (rule bad-sev): Unexpected property',
      'rules[3].severity (rule bad-sev): expected one of critical, warning, info',
      'rules[3].after (rule bad-sev): Expected integer to be greater or equal to 1',
      'rules[4].kind (rule what): expected one of threshold, rate, stale, offline, sensor',
      expect.stringMatching(/^rules\[5\]\.id: /),
      'rules[6].id (rule ok-one): duplicate of rules[0]',
      expect.stringMatching(/^rules\[7\]\.match\.device \(rule glob\): /),
      'rules[8].for (rule slow): Expected integer',
      'rules[8].above (rule slow): a rate rule needs `above`, `below` or both (change per minute)',
      'rules[9]: expected a rule object',
    ]);
  });

  it('refuses limits in the wrong order and a clear level without its limit', () => {
    const parsed = parseRules([
      { ...base, id: 'crossed', kind: 'threshold', above: 100, below: 200 },
      { ...base, id: 'orphan', kind: 'threshold', below: 10, clearAbove: 5 },
      { ...base, id: 'rate-crossed', kind: 'rate', above: 10, below: 20, window: 60_000 },
    ]);
    expect(parsed.ok ? [] : parsed.problems).toEqual([
      'rules[0].below (rule crossed): must be less than above (100), got 200',
      'rules[1].clearAbove (rule orphan): only makes sense with `above`',
      'rules[2].below (rule rate-crossed): must be less than above (10), got 20',
    ]);
  });

  it('refuses something that is not a list', () => {
    expect(parseRules({ id: 'x' })).toEqual({ ok: false, problems: ['rules: expected a list of rules'] });
  });
});
