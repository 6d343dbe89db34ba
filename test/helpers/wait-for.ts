// Polling with a deadline: tests wait for a condition, never for a fixed time, so they are
// as fast as the machine allows and fail with a message saying what never happened.
import { connect } from 'node:net';

export interface WaitForOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
  /** What we are waiting for, used in the timeout error ("mosquitto on port 1883"). */
  what: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const EXPIRED: unique symbol = Symbol('expired');

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and returns
 * that value. A probe that throws stops the wait at once (the error propagates): probes use
 * that to report hopeless states, such as the server process having exited.
 * A probe that hangs is abandoned when the deadline passes.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs, intervalMs = 50, what }: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const timeoutError = () => new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timeoutError();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<typeof EXPIRED>((resolve) => {
      timer = setTimeout(() => resolve(EXPIRED), remaining);
    });
    try {
      const result = await Promise.race([Promise.resolve(probe()), expired]);
      if (result === EXPIRED) throw timeoutError();
      if (result !== undefined && result !== false) return result;
    } finally {
      clearTimeout(timer);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** True when something accepts a TCP connection on host:port within `timeoutMs`. */
export function tcpAccepts(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Waits until host:port accepts TCP connections. */
export async function waitForTcp(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  await waitFor(() => tcpAccepts(port, host), { timeoutMs, what: `TCP ${host}:${port} to accept connections` });
}
