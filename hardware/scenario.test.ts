import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, Timeline, assertScenarioFits, parseScenario } from './scenario.js';

describe('scenario timelines (spec §19.1)', () => {
  it('reads names, start times and durations in s, m and h', () => {
    expect(parseScenario('overheat')).toEqual([{ fault: 'overheat', from: 0, until: Infinity }]);
    expect(parseScenario('tc-open@10m+2m, spikes@90+30s,stall+1.5h')).toEqual([
      { fault: 'tc-open', from: 600, until: 720 },
      { fault: 'spikes', from: 90, until: 120 },
      { fault: 'stall', from: 0, until: 5400 },
    ]);
    expect(parseScenario('')).toEqual([]);
    expect(FAULT_KINDS.map((fault) => parseScenario(fault)[0]?.fault)).toEqual(FAULT_KINDS);
  });

  it.each([
    ['an unknown fault', 'meltdown', /unknown fault "meltdown"/],
    ['a bad time', 'stall@soon', /"soon" is not a time/],
    ['a bad unit', 'stall@5d', /"5d" is not a time/],
    ['a zero duration', 'stall@5+0', /must be above 0/],
    ['junk', 'stall@@5', /"@5" is not a time/],
    ['upper case', 'STALL', /cannot read "STALL"/],
  ])('refuses %s with HARDWARE_BAD_SCENARIO', (_what, text, message) => {
    expect(() => parseScenario(text)).toThrow(message);
    expect(() => parseScenario(text)).toThrow(expect.objectContaining({ code: 'HARDWARE_BAD_SCENARIO' }));
  });

  it('says which faults are active at a time: start included, end excluded', () => {
    const timeline = new Timeline(parseScenario('tc-open@60+30,stuck@75'));
    expect(timeline.isActive('tc-open', 59.9)).toBe(false);
    expect(timeline.isActive('tc-open', 60)).toBe(true);
    expect(timeline.isActive('tc-open', 89)).toBe(true);
    expect(timeline.isActive('tc-open', 90)).toBe(false);
    expect(timeline.isActive('stuck', 1e9)).toBe(true);
    expect(timeline.isActive('spikes', 80)).toBe(false);
  });

  it('refuses faults the protocol cannot show (spec §19.2)', () => {
    expect(() => assertScenarioFits(parseScenario('busy'), 'line')).toThrow(/busy does not apply to the line protocol/);
    expect(() => assertScenarioFits(parseScenario('baud-mismatch'), 'modbus')).toThrow(/baud-mismatch does not apply to the modbus/);
    expect(() => assertScenarioFits(parseScenario('crc-errors'), 'line')).toThrow(/needs line checksums/);
    expect(() => assertScenarioFits(parseScenario('crc-errors,noise,stall'), 'line', true)).not.toThrow();
    expect(() => assertScenarioFits(parseScenario('busy,crc-errors,partial'), 'modbus')).not.toThrow();
  });
});
