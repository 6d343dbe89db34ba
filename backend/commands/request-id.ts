import { randomBytes } from 'node:crypto';

/**
 * A request id: the time in base 36 (8 characters until the year 2059, so ids sort by time in
 * logs and on the wire), then 64 random bits, so two backends, or two requests in the same
 * millisecond, never share one. The agent caches replies by it: a clash would hand one request
 * the reply of another.
 */
export function newRequestId(now = Date.now()): string {
  return `${now.toString(36).padStart(8, '0')}-${randomBytes(8).toString('hex')}`;
}
