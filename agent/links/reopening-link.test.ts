import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Opener, ReopeningLink, type SourceState } from './reopening-link.js';

const log = pino({ level: 'silent' });

describe('ReopeningLink stall watchdog changed at run time', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('applies a new stall time to the open link at once (a Modbus bus polled at a new period)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // A connection that opens and never delivers a byte.
    const open: Opener = () => Promise.resolve({ write: () => undefined, close: () => Promise.resolve() });
    const link = new ReopeningLink({ describe: 'test', open, reopenMaxMs: 1000, stallAfterMs: 100, log });
    const states: SourceState[] = [];
    link.on('state', (state) => states.push(state));
    link.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(states).toEqual(['opening', 'open']);
    await vi.advanceTimersByTimeAsync(50);
    link.setStallAfterMs(1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(states).toEqual(['opening', 'open']); // the old 100 ms are gone
    await vi.advanceTimersByTimeAsync(1);
    expect(states.at(-1)).toBe('stalled');
    await link.stop();
  });
});
