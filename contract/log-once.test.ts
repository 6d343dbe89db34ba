import { describe, expect, it } from 'vitest';
import { OncePerKey, onceLevel } from './log-once.js';

describe('onceLevel', () => {
  it('is loud for the first occurrence and debug for the repeats', () => {
    expect(onceLevel(true)).toBe('warn');
    expect(onceLevel(true, 'error')).toBe('error');
    expect(onceLevel(false, 'error')).toBe('debug');
  });
});

describe('OncePerKey', () => {
  it('says first once per (key, tag), for string and object keys alike', () => {
    const once = new OncePerKey();
    const client = {};
    expect([once.first('10.0.0.1', 'refused'), once.first('10.0.0.1', 'refused'), once.first('10.0.0.1', 'other')]).toEqual([
      true,
      false,
      true,
    ]);
    expect([once.first(client, 'denied'), once.first(client, 'denied'), once.first({}, 'denied')]).toEqual([true, false, true]);
    expect([once.level('tc1:range', '', 'error'), once.level('tc1:range', '', 'error')]).toEqual(['error', 'debug']);
  });

  it('forgets everything when full, by default, so memory stays bounded and a key may be loud once more', () => {
    const once = new OncePerKey({ maxStringKeys: 2 });
    once.first('a');
    once.first('b');
    expect(once.first('c')).toBe(true); // the map starts over with c
    expect(once.first('a')).toBe(true);
    expect(once.first('c')).toBe(false);
  });

  it('treats new keys as repeats when full and quiet, so a flood of junk keys cannot keep the log loud', () => {
    const once = new OncePerKey({ maxStringKeys: 2, whenFull: 'quiet' });
    expect([once.level('a'), once.level('b'), once.level('c'), once.level('c')]).toEqual(['warn', 'warn', 'debug', 'debug']);
    expect(once.level('a')).toBe('debug');
  });
});
