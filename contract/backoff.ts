// Exponential backoff with jitter: the one formula for every "try again later" of the project
// (the agent reopening its serial port and reconnecting to the broker, the backend retrying a
// store write, an alert delivery, an InfluxDB request). It lives in contract/ because that is the
// one folder every part may import (DESIGN.md: the parts meet only through contract/), as
// settings.ts does; it is mechanism, not wire format, and imports nothing.

export interface BackoffPolicy {
  /** The first wait (ms); it doubles with each failure in a row. */
  minMs: number;
  /** The doubling stops here (ms); jitter above may still add to it. */
  maxMs: number;
  /**
   * How far the wait strays at random from the doubled one, as fractions of it: the wait lies in
   * [base x (1 - below), base x (1 + above)]. Jitter spreads the retries of many clients (agents,
   * ports, queued items) that failed together, so they do not come back in step. Default: none.
   */
  jitter?: { below: number; above: number };
  /** Never wait less than minMs, whatever the jitter draws. */
  atLeastMin?: boolean;
}

/** Past this many doublings every realistic maxMs is reached; the cap keeps 2 ** n finite. */
const MAX_DOUBLINGS = 30;

/**
 * The wait (whole ms) before the next attempt after `failures` failures in a row (counting from
 * 1). `random` is Math.random's contract (0 inclusive to 1 exclusive); 0 draws the longest wait,
 * values towards 1 the shortest. Tests pin it.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const { minMs, maxMs, jitter, atLeastMin = false } = policy;
  const base = Math.min(minMs * 2 ** Math.min(Math.max(failures - 1, 0), MAX_DOUBLINGS), maxMs);
  const factor = jitter === undefined ? 1 : 1 + jitter.above - (jitter.below + jitter.above) * random();
  const delay = Math.round(base * factor);
  return atLeastMin ? Math.max(minMs, delay) : delay;
}
