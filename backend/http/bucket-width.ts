import { ApiError } from '../errors.js';
import { MIN_EVERY_MS } from './time-params.js';

// `points=N` on the readings route: the server picks the bucket width, so a chart asks for about
// one point per pixel and never pulls 2.6 million readings to draw 30 days.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Widths a chart's axis reads well, each a whole number of minutes or hours from one minute on,
 * so the store answers from its minute or hour rollups rather than the raw readings.
 */
export const NICE_WIDTHS_MS: readonly number[] = [
  ...[1, 2, 5, 10, 15, 30].map((n) => n * SECOND),
  ...[1, 2, 3, 5, 10, 15, 20, 30].map((n) => n * MINUTE),
  ...[1, 2, 3, 4, 6, 8, 12].map((n) => n * HOUR),
  ...[1, 2, 7, 14, 30].map((n) => n * DAY),
];

/**
 * The narrowest nice width that splits `from..to` into at most about `points` buckets (the
 * range is rounded outward to whole buckets, so one more may come). Past the widest nice
 * width, whole days.
 */
export function bucketWidthFor(from: number, to: number, points: number): number {
  if (!Number.isInteger(points) || points < 1) throw new ApiError('API_BAD_REQUEST', `points: ${points} is not a whole number above 0`);
  const wanted = Math.max(MIN_EVERY_MS, Math.ceil((to - from) / points));
  return NICE_WIDTHS_MS.find((width) => width >= wanted) ?? Math.ceil(wanted / DAY) * DAY;
}
