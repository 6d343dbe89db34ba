import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_OUTBOX_LIMITS, DurableOutbox, type NewReading, type OutboxLimits } from './outbox.js';

const BOOT = '01JBOOT';
const T0 = 1_764_340_000_000;

function reading(ts: number): NewReading {
  return { ts, sensor: 'tc1', value: 812.5, unit: 'C', quality: 'good', clock: 'synced' };
}

describe('DurableOutbox limits', () => {
  let dir: string;
  let outbox: DurableOutbox | undefined;
  const open = (limits: Partial<OutboxLimits>) => {
    outbox = new DurableOutbox(dir, { ...DEFAULT_OUTBOX_LIMITS, ...limits });
    return outbox;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-limits-'));
  });
  afterEach(() => {
    outbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops the oldest readings when full, by default, and counts them', () => {
    const box = open({ maxReadings: 3 });
    const seqs = [1, 2, 3, 4, 5].map((i) => box.append(BOOT, reading(T0 + i), T0));
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(box.depth).toBe(3);
    expect(box.dropped).toBe(2);
    expect(box.peek(10).map((entry) => entry.seq)).toEqual([3, 4, 5]);
  });

  it('keeps the oldest and refuses the newest with drop-newest', () => {
    const box = open({ maxReadings: 3, whenFull: 'drop-newest' });
    const seqs = [1, 2, 3, 4, 5].map((i) => box.append(BOOT, reading(T0 + i), T0));
    expect(seqs).toEqual([1, 2, 3, undefined, undefined]);
    expect(box.dropped).toBe(2);
    expect(box.peek(10).map((entry) => entry.seq)).toEqual([1, 2, 3]);
  });

  it('drops readings past the age cap and reports the age of the oldest one left', () => {
    const box = open({ maxAgeMs: 60_000 });
    box.append(BOOT, reading(T0), T0);
    box.append(BOOT, reading(T0 + 50_000), T0);
    box.append(BOOT, reading(T0 + 90_000), T0);
    expect(box.oldestAgeMs(T0 + 100_000)).toBe(100_000);
    expect(box.pruneExpired(T0 + 100_000)).toBe(1);
    expect(box.depth).toBe(2);
    expect(box.dropped).toBe(1);
    expect(box.oldestAgeMs(T0 + 100_000)).toBe(50_000);
  });

  it('prunes by age on append, at most once a minute', () => {
    const box = open({ maxAgeMs: 1000 });
    box.append(BOOT, reading(T0), T0);
    box.append(BOOT, reading(T0 + 10), T0 + 30_000); // within the minute: no prune yet
    expect(box.depth).toBe(2);
    box.append(BOOT, reading(T0 + 61_000), T0 + 61_000);
    expect(box.depth).toBe(1);
    expect(box.oldestAgeMs(T0 + 61_000)).toBe(0);
  });

  it('keeps the cap across a reopen', () => {
    const first = open({ maxReadings: 2 });
    [1, 2].forEach((i) => first.append(BOOT, reading(T0 + i), T0));
    first.close();
    const box = open({ maxReadings: 2 });
    box.append(BOOT, reading(T0 + 3), T0);
    expect(box.peek(10).map((entry) => entry.seq)).toEqual([2, 3]);
  });
});
