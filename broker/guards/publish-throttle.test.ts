import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PublishThrottle } from './publish-throttle.js';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe('PublishThrottle', () => {
  it('passes a burst at once, then paces to the rate, in order', () => {
    const throttle = new PublishThrottle(10, 3, () => Date.now());
    const ran: number[] = [];
    const results = Array.from({ length: 6 }, (_, i) => throttle.take(() => ran.push(i)));
    expect(results).toEqual([true, true, true, false, false, false]);
    expect(ran).toEqual([0, 1, 2]);
    expect(throttle.queued).toBe(3);
    vi.advanceTimersByTime(100);
    expect(ran).toEqual([0, 1, 2, 3]);
    vi.advanceTimersByTime(200);
    expect(ran).toEqual([0, 1, 2, 3, 4, 5]);
    expect(throttle.queued).toBe(0);
  });

  it('refills over time, never above the burst', () => {
    const throttle = new PublishThrottle(10, 2, () => Date.now());
    throttle.take(() => undefined);
    throttle.take(() => undefined);
    vi.advanceTimersByTime(10_000);
    expect([throttle.take(() => undefined), throttle.take(() => undefined), throttle.take(() => undefined)]).toEqual([true, true, false]);
  });

  it('with rate 0 never waits; closed, it forgets what waits', () => {
    const free = new PublishThrottle(0, 1, () => Date.now());
    expect(Array.from({ length: 100 }, () => free.take(() => undefined)).every(Boolean)).toBe(true);
    const throttle = new PublishThrottle(1, 1, () => Date.now());
    const ran: number[] = [];
    throttle.take(() => ran.push(1));
    throttle.take(() => ran.push(2));
    throttle.close();
    vi.advanceTimersByTime(5000);
    expect(ran).toEqual([1]);
  });
});
