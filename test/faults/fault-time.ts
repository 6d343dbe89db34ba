// Time in the fault suite. A fault may have to last a fixed time ("backend down 3 s"): that wait
// is the fault itself, and only it is written as a wait. What happens during a fault is watched
// by polling with a deadline, never by sleeping and hoping.
import { waitFor } from '../helpers/wait-for.js';

export interface Fault {
  /** ms left until the fault's planned end. */
  remaining(): number;
  /** Resolves at the fault's planned end (at once if it is past). */
  over(): Promise<void>;
}

/** A fault that lasts `ms` from now. */
export function faultLasting(ms: number): Fault {
  const end = Date.now() + ms;
  const remaining = () => Math.max(0, end - Date.now());
  return { remaining, over: () => new Promise((resolve) => setTimeout(resolve, remaining())) };
}

/** Holds a fault for `ms`: the wait is the fault. */
export function faultLasts(ms: number): Promise<void> {
  return faultLasting(ms).over();
}

/** Whether `probe` comes true within `ms` (polled every 100 ms); false, not an error, if it does not. */
export async function seenWithin(ms: number, probe: () => boolean | Promise<boolean>): Promise<boolean> {
  try {
    return await waitFor(probe, { timeoutMs: Math.max(1, ms), intervalMs: 100, what: 'an observation' });
  } catch (error) {
    if ((error as Error).message.startsWith('timed out')) return false;
    throw error;
  }
}
