import { ApiError } from '../errors.js';

// Times and durations in query strings. Every refusal is a 400 whose message starts with the
// parameter's name, so a script author sees at once which one to fix.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const UNIX_MS = /^\d{1,16}$/;
/** The largest time JavaScript dates reach. */
const MAX_MS = 8_640_000_000_000_000;

function bad(name: string, message: string): ApiError {
  return new ApiError('API_BAD_REQUEST', `${name}: ${message}`);
}

/** RFC 3339 (`2025-11-28T14:00:00Z`, `2025-11-28T15:00:00.250+01:00`) or Unix milliseconds. */
export function parseTime(name: string, raw: string): number {
  if (UNIX_MS.test(raw)) {
    const ms = Number(raw);
    if (ms > MAX_MS) throw bad(name, `${raw} is past the largest time, ${MAX_MS}`);
    return ms;
  }
  const match = RFC3339.exec(raw);
  if (!match) throw bad(name, `${JSON.stringify(raw.slice(0, 40))} is neither RFC 3339 (2025-11-28T14:00:00Z) nor Unix milliseconds`);
  const [, year, month, day, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number];
  // Date.parse takes 2025-02-30 for March 2nd: check the fields ourselves.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    throw bad(name, `${raw} is not a real date and time`);
  }
  const ms = Date.parse(raw.replace(' ', 'T'));
  if (Number.isNaN(ms) || ms < 0) throw bad(name, `${raw} is before 1970 or not a valid time`);
  return ms;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,12})(ms|s|m|h|d)?$/;
export const MIN_EVERY_MS = 1000;

/** A bucket width: `30s`, `1m`, `15m`, `1h`, `1d`, or plain milliseconds. */
export function parseEvery(raw: string, maxMs: number): number {
  const match = DURATION.exec(raw);
  if (!match) throw bad('every', `${JSON.stringify(raw.slice(0, 20))} is not a duration such as 30s, 1m, 15m, 1h, 1d or 60000`);
  const ms = Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
  if (ms < MIN_EVERY_MS) throw bad('every', `${raw} is shorter than the smallest bucket, 1s`);
  if (ms % MIN_EVERY_MS !== 0) throw bad('every', `${raw} is not a whole number of seconds`);
  if (ms > maxMs) throw bad('every', `${raw} is wider than the widest range a query may ask for`);
  return ms;
}

export interface TimeRange {
  from: number;
  to: number;
}

/**
 * The range of a query: `to` defaults to now, `from` to an hour before `to`. Refuses a `from`
 * not before `to` and a range wider than `maxRangeDays`.
 */
export function parseRange(query: { from?: string | undefined; to?: string | undefined }, now: number, maxRangeDays: number): TimeRange {
  const to = query.to === undefined ? now : parseTime('to', query.to);
  const from = query.from === undefined ? to - 3_600_000 : parseTime('from', query.from);
  if (from >= to) throw bad('from', `${query.from ?? from} is not before to (${query.to ?? 'now'})`);
  const days = (to - from) / 86_400_000;
  if (days > maxRangeDays) {
    throw bad(
      'from',
      `the range from..to spans ${Math.round(days)} days; the most a query may ask for is ${maxRangeDays} days (query.maxRangeDays)`,
    );
  }
  return { from, to };
}
