import { describe, expect, it } from 'vitest';
import { compileGlob } from './glob.js';

const matchesGlob = (pattern: string, value: string): boolean => compileGlob(pattern)(value);

describe('glob', () => {
  it('matches exactly without a star', () => {
    expect(matchesGlob('furnace-1', 'furnace-1')).toBe(true);
    expect(matchesGlob('furnace-1', 'furnace-10')).toBe(false);
    expect(matchesGlob('furnace-1', 'xfurnace-1')).toBe(false);
  });

  it('lets a star stand for any run of characters, including none', () => {
    expect(matchesGlob('*', 'anything')).toBe(true);
    expect(matchesGlob('furnace-*', 'furnace-')).toBe(true);
    expect(matchesGlob('furnace-*', 'furnace-12')).toBe(true);
    expect(matchesGlob('furnace-*', 'kiln-1')).toBe(false);
    expect(matchesGlob('*-1', 'kiln-1')).toBe(true);
    expect(matchesGlob('tc*a', 'tc12a')).toBe(true);
    expect(matchesGlob('tc*a', 'tc12b')).toBe(false);
    expect(matchesGlob('a**b', 'ab')).toBe(true);
  });

  it('anchors at both ends', () => {
    expect(matchesGlob('tc*', 'xtc1')).toBe(false);
    expect(matchesGlob('*tc', 'tc1')).toBe(false);
  });

  it('treats regular-expression characters literally', () => {
    expect(matchesGlob('a.c*', 'abc1')).toBe(false);
    expect(matchesGlob('a.c*', 'a.c1')).toBe(true);
    expect(compileGlob('(x)*')('(x)y')).toBe(true);
    expect(compileGlob('(x)*')('xy')).toBe(false);
  });
});
