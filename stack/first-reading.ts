// The time `npm start` takes to show a reading: from the command (the npm script passes its start
// time, so the build counts) to the backend's first stored reading.
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartClock {
  /** Epoch milliseconds the time is counted from. */
  readonly startedAtMs: number;
  /** Whether that is when `npm start` was typed (build included) or when this process started. */
  readonly includesBuild: boolean;
}

const HOUR_MS = 3_600_000;

/**
 * FURNACE_STACK_STARTED_AT_MS is set by the `start` script of package.json from `date +%s%3N`
 * (GNU date; elsewhere it is not a number). Without it, e.g. `node dist/stack/start.js` run
 * directly, the count starts with this process and leaves the build out.
 */
export function startClock(env: NodeJS.ProcessEnv = process.env, now = Date.now()): StartClock {
  const passed = Number(env.FURNACE_STACK_STARTED_AT_MS);
  // A value from the future or hours ago was inherited from elsewhere, not set for this command.
  if (Number.isFinite(passed) && passed > 0 && passed <= now && now - passed < HOUR_MS) return { startedAtMs: passed, includesBuild: true };
  return { startedAtMs: performance.timeOrigin, includesBuild: false };
}

/** The backend's furnace_backend_readings_stored_total, or 0 while it cannot be read. */
async function storedReadings(httpPort: number): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(1000) });
    const match = /^furnace_backend_readings_stored_total(?:\{[^}]*\})? (\S+)$/m.exec(await response.text());
    return match ? Number(match[1]) : 0;
  } catch {
    // Not counted or logged: the caller polls again, and reports the time-out if none succeeds.
    return 0;
  }
}

/** Epoch milliseconds at which the backend had stored its first reading, or undefined after `timeoutMs`. */
export async function waitForFirstStoredReading(httpPort: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await storedReadings(httpPort)) > 0) return Date.now();
    await sleep(100);
  }
  return undefined;
}

/** The banner's line: how long the first reading took. */
export function describeFirstReading(clock: StartClock, storedAtMs: number | undefined, timeoutMs: number): string {
  if (storedAtMs === undefined) return `none stored within ${timeoutMs / 1000} s of the parts starting; see the backend's log`;
  const seconds = ((storedAtMs - clock.startedAtMs) / 1000).toFixed(1);
  return clock.includesBuild
    ? `stored ${seconds} s after \`npm start\` (build included)`
    : `stored ${seconds} s after this process started (build not included)`;
}
