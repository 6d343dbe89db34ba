import { describe, expect, it } from 'vitest';
import { findProgram } from '../../test/helpers/find-program.js';
import { ClockMonitor, chronyProbe } from './clock.js';

const now = () => Date.UTC(2027, 0, 1);

describe('ClockMonitor', () => {
  it('is unsynced until a probe says the clock is synchronised', async () => {
    const clock = new ClockMonitor([() => Promise.resolve(undefined)], now);
    await clock.refresh();
    expect(clock.state()).toBe('unsynced');
  });

  it('takes the first probe that knows, in order', async () => {
    const clock = new ClockMonitor([() => Promise.resolve(undefined), () => Promise.resolve(true), () => Promise.resolve(false)], now);
    await clock.refresh();
    expect(clock.state()).toBe('synced');
    const unsynced = new ClockMonitor([() => Promise.resolve(false), () => Promise.resolve(true)], now);
    await unsynced.refresh();
    expect(unsynced.state()).toBe('unsynced');
  });

  it('never trusts a clock earlier than the release, whatever the daemons say', async () => {
    const clock = new ClockMonitor([() => Promise.resolve(true)], () => Date.UTC(1970, 0, 2));
    await clock.refresh();
    expect(clock.state()).toBe('unsynced');
  });

  it.skipIf(findProgram('chronyc') !== undefined)('reports chrony as unknown where chronyc is not installed', async () => {
    expect(await chronyProbe()).toBeUndefined();
  });
});
