import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from minMs per failure in a row and stops at maxMs', () => {
    const waits = [1, 2, 3, 4, 5, 6].map((failures) => backoffDelay(failures, { minMs: 100, maxMs: 1000 }));
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('stays finite and capped after very many failures', () => {
    expect(backoffDelay(10_000, { minMs: 250, maxMs: 30_000 })).toBe(30_000);
  });

  it('strays within the jitter band: random 0 draws the longest wait, near 1 the shortest', () => {
    const policy = { minMs: 1000, maxMs: 1000, jitter: { below: 0.2, above: 0.2 } };
    expect(backoffDelay(1, policy, () => 0)).toBe(1200);
    expect(backoffDelay(1, policy, () => 0.5)).toBe(1000);
    expect(backoffDelay(1, policy, () => 0.999_999)).toBe(800);
    for (let i = 0; i < 200; i++) {
      const wait = backoffDelay(3, { minMs: 100, maxMs: 10_000, jitter: { below: 0.5, above: 0 } });
      expect(wait).toBeGreaterThanOrEqual(200);
      expect(wait).toBeLessThanOrEqual(400);
    }
  });

  it('never waits under minMs when asked, whatever the jitter draws', () => {
    const policy = { minMs: 100, maxMs: 400, jitter: { below: 0.25, above: 0 }, atLeastMin: true };
    expect([1, 2, 3, 4].map((failures) => backoffDelay(failures, policy, () => 1))).toEqual([100, 150, 300, 300]);
    expect(backoffDelay(1, { ...policy, atLeastMin: false }, () => 1)).toBe(75);
  });
});
