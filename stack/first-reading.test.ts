import { describe, expect, it } from 'vitest';
import { describeFirstReading, startClock } from './first-reading.js';

describe('startClock', () => {
  const now = 1_800_000_000_000;
  it('counts from the time the npm script passes, build included', () => {
    expect(startClock({ FURNACE_STACK_STARTED_AT_MS: String(now - 5000) }, now)).toEqual({ startedAtMs: now - 5000, includesBuild: true });
  });
  it.each([undefined, '', '1800000000%3N', String(now + 1000), String(now - 2 * 3_600_000)])(
    'counts from this process when the passed time is %j',
    (passed) => {
      expect(startClock({ FURNACE_STACK_STARTED_AT_MS: passed }, now)).toEqual({
        startedAtMs: performance.timeOrigin,
        includesBuild: false,
      });
    },
  );
});

describe('describeFirstReading', () => {
  it('says what the time includes', () => {
    expect(describeFirstReading({ startedAtMs: 1000, includesBuild: true }, 7300, 15_000)).toBe(
      'stored 6.3 s after `npm start` (build included)',
    );
    expect(describeFirstReading({ startedAtMs: 1000, includesBuild: false }, 3000, 15_000)).toBe(
      'stored 2.0 s after this process started (build not included)',
    );
    expect(describeFirstReading({ startedAtMs: 1000, includesBuild: true }, undefined, 15_000)).toBe(
      "none stored within 15 s of the parts starting; see the backend's log",
    );
  });
});
