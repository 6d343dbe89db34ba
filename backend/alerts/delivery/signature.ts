import { createHmac, timingSafeEqual } from 'node:crypto';

// The webhook signature (README.md in this folder is the receiver's side):
//
//   X-Furnace-Signature: sha256=<hex HMAC-SHA256(secret, `${X-Furnace-Timestamp}.${raw body}`)>
//
// The timestamp is inside the signed text so that a captured request cannot be replayed later with a
// fresh timestamp; it is the time of the attempt (each retry signs anew), so a receiver may refuse
// old ones. The same scheme as Stripe's and Slack's, which receivers' frameworks already know.

export const SIGNATURE_PREFIX = 'sha256=';

/** The X-Furnace-Signature value of `body` sent at `timestamp` (Unix ms). */
export function sign(secret: string, timestamp: number | string, body: string): string {
  return SIGNATURE_PREFIX + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export interface VerifyOptions {
  /** Refuse a timestamp further than this from `now` (replay protection); default: no limit. */
  maxAgeMs?: number;
  now?: number;
}

/**
 * True when `signature` (the X-Furnace-Signature header) is the signature of the raw `body` with
 * `timestamp` (the X-Furnace-Timestamp header) under `secret`. Constant-time comparison.
 */
export function verify(
  secret: string,
  timestamp: number | string | undefined,
  body: string,
  signature: string | undefined,
  { maxAgeMs, now = Date.now() }: VerifyOptions = {},
): boolean {
  if (timestamp === undefined || signature === undefined) return false;
  if (maxAgeMs !== undefined) {
    const ts = Number(timestamp);
    if (!Number.isFinite(ts) || Math.abs(now - ts) > maxAgeMs) return false;
  }
  const expected = Buffer.from(sign(secret, timestamp, body));
  const given = Buffer.from(signature);
  // timingSafeEqual throws on different lengths; a length says nothing about the secret.
  return expected.length === given.length && timingSafeEqual(expected, given);
}
