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
 * The nice width nearest (by ratio) to the one that splits `from..to` into `points` buckets:
 * so between about 0.7 and 1.5 times `points` buckets come back (plus one, as the range is
 * rounded outward to whole buckets). Never under a second; past the widest nice width, whole days.
 */
export function bucketWidthFor(from: number, to: number, points: number): number {
  if (!Number.isInteger(points) || points < 1) throw new ApiError('API_BAD_REQUEST', `points: ${points} is not a whole number above 0`);
  const wanted = Math.max(MIN_EVERY_MS, (to - from) / points);
  const above = NICE_WIDTHS_MS.findIndex((width) => width >= wanted);
  if (above === -1) return Math.ceil(wanted / DAY) * DAY;
  const upper = NICE_WIDTHS_MS[above] ?? MIN_EVERY_MS;
  const lower = NICE_WIDTHS_MS[above - 1];
  return lower !== undefined && wanted / lower < upper / wanted ? lower : upper;
}
