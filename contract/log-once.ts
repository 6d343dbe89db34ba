// "Log it loudly the first time, count it every time, repeat it only at debug": the one way
// every part keeps a repeated problem (a noisy serial line, a refused payload, a corrupt row,
// a password-guessing client, a dead webhook) from flooding the log. It lives in contract/
// because agent, broker and backend all use it and contract/ is the one folder they all may
// import (DESIGN.md), as settings.ts does; it is mechanism, not wire format, and imports nothing.

/** The level a repeated problem is logged at: loud the first time, debug after. */
export type OnceLevel = 'warn' | 'error' | 'debug';

/** The level for one occurrence of a problem whose first occurrence the caller knows by itself. */
export function onceLevel(first: boolean, loud: 'warn' | 'error' = 'warn'): OnceLevel {
  return first ? loud : 'debug';
}

export interface OncePerKeyOptions {
  /** How many string keys are remembered; junk from outside (topics, addresses) must not grow memory. */
  maxStringKeys?: number;
  /**
   * Once that many are remembered: `forget` starts over (a key already logged may be logged once
   * more, which is bounded), `quiet` treats every new key as a repeat (a flood of junk keys cannot
   * keep the log loud).
   */
  whenFull?: 'forget' | 'quiet';
}

/**
 * Remembers which (key, tag) pairs were seen. Object keys (a client) are held weakly, so they go
 * with the object; string keys (a remote address, a topic, a row id) in a bounded map.
 */
export class OncePerKey {
  private readonly objects = new WeakMap<object, Set<string>>();
  private readonly strings = new Map<string, Set<string>>();
  private readonly maxStringKeys: number;
  private readonly whenFull: 'forget' | 'quiet';

  constructor(options: OncePerKeyOptions = {}) {
    this.maxStringKeys = options.maxStringKeys ?? 10_000;
    this.whenFull = options.whenFull ?? 'forget';
  }

  /** True the first time `tag` is seen for `key`. */
  first(key: object | string, tag = ''): boolean {
    const seen = typeof key === 'string' ? this.stringTags(key) : this.objectTags(key);
    if (seen === undefined || seen.has(tag)) return false;
    seen.add(tag);
    return true;
  }

  /** The level to log this occurrence at: `loud` the first time for (key, tag), debug after. */
  level(key: object | string, tag = '', loud: 'warn' | 'error' = 'warn'): OnceLevel {
    return onceLevel(this.first(key, tag), loud);
  }

  private objectTags(key: object): Set<string> {
    let seen = this.objects.get(key);
    if (!seen) this.objects.set(key, (seen = new Set()));
    return seen;
  }

  /** The tags seen for a string key; undefined when the map is full and new keys count as repeats. */
  private stringTags(key: string): Set<string> | undefined {
    let seen = this.strings.get(key);
    if (seen) return seen;
    if (this.strings.size >= this.maxStringKeys) {
      if (this.whenFull === 'quiet') return undefined;
      this.strings.clear();
    }
    this.strings.set(key, (seen = new Set()));
    return seen;
  }
}
