import { ContractError } from './errors.js';

/**
 * A device id, and every other name that becomes one topic level (sensor, rule, command):
 * 1 to 64 characters of `A-Z a-z 0-9 _ -`. Nothing else may reach a topic, so `+`, `#`
 * and `/` can never widen a subscription or forge another device's topic.
 */
export const SEGMENT_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const segment = new RegExp(SEGMENT_PATTERN);

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && segment.test(value);
}

/** Throws a `CONTRACT_INVALID_SEGMENT` error naming what was wrong with `value`. */
export function assertSegment(what: string, value: string): void {
  if (!segment.test(value)) {
    throw new ContractError(
      'CONTRACT_INVALID_SEGMENT',
      `${what} ${JSON.stringify(value)} is not allowed: use 1 to 64 characters of A-Z a-z 0-9 _ -`,
    );
  }
}
