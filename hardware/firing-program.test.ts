import { describe, expect, it } from 'vitest';
import { FiringProgram, STANDARD_FIRING, parseProgram } from './firing-program.js';

describe('firing programs (spec §18)', () => {
  it('reads segments, and standard as the standard firing', () => {
    expect(parseProgram('ramp:1200:240,hold:60,cool')).toEqual([
      { kind: 'ramp', to: 1200, minutes: 240 },
      { kind: 'hold', minutes: 60 },
      { kind: 'cool' },
    ]);
    expect(parseProgram('standard')).toEqual(parseProgram(STANDARD_FIRING));
    expect(parseProgram(' ramp:600:30 , ramp:300:10 ')).toEqual([
      { kind: 'ramp', to: 600, minutes: 30 },
      { kind: 'ramp', to: 300, minutes: 10 },
    ]);
  });

  it.each([
    ['an unknown segment', 'soak:10', /unknown segment "soak:10"/],
    ['a target out of range', 'ramp:1500:10', /ramp target °C "1500"/],
    ['a missing duration', 'ramp:1200', /ramp minutes ""/],
    ['a zero hold', 'hold:0', /hold minutes "0"/],
    ['too many fields', 'hold:5:6', /too many fields/],
    ['cool before the end', 'cool,hold:5', /cool must be the last/],
    ['an empty program', '', /unknown segment ""/],
  ])('refuses %s with HARDWARE_BAD_PROGRAM', (_what, text, message) => {
    expect(() => parseProgram(text)).toThrow(message);
    expect(() => parseProgram(text)).toThrow(expect.objectContaining({ code: 'HARDWARE_BAD_PROGRAM' }));
  });

  it('gives the setpoint at each simulated time: ramps from the start value, holds, then off', () => {
    const program = new FiringProgram(parseProgram('ramp:1020:100,hold:10,ramp:520:50,cool'), 20);
    expect(program.durationSeconds).toBe(160 * 60);
    expect(program.setpointAt(0)).toBe(20);
    expect(program.setpointAt(50 * 60)).toBe(520);
    expect(program.setpointAt(100 * 60)).toBe(1020);
    expect(program.setpointAt(105 * 60)).toBe(1020);
    expect(program.setpointAt(135 * 60)).toBe(770);
    expect(program.setpointAt(160 * 60)).toBe('off');
    expect(program.setpointAt(1e9)).toBe('off');
  });

  it('keeps the last setpoint after a program without cool', () => {
    const program = new FiringProgram(parseProgram('ramp:500:10'), 0);
    expect(program.setpointAt(600)).toBe(500);
    expect(program.setpointAt(1e9)).toBe(500);
  });
});
