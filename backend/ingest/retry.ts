import { backoffDelay } from '../../contract/backoff.js';

export interface RetryOptions {
  maxDelayMs: number;
  /** Called on each failure, before the pause. */
  onFailure: (error: Error, attempt: number, retryInMs: number) => void;
  /** Stops retrying (the last error is thrown) once this says so. */
  giveUp: () => boolean;
  /** Resolves early when retrying should stop at once (e.g. on close). */
  cancelled: Promise<void>;
}

/**
 * Runs `attempt` until it succeeds, with a doubling pause between tries (100 ms up to
 * `maxDelayMs`). The pause is a timer, so the event loop, and with it the API, stays free.
 */
export async function retryUntilDone<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (options.giveUp()) throw error;
      // No jitter: one backend retries its own writes, there is no herd to spread.
      const delay = backoffDelay(tries, { minMs: 100, maxMs: options.maxDelayMs });
      options.onFailure(error as Error, tries, delay);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, delay))), options.cancelled]);
      clearTimeout(timer);
      if (options.giveUp()) throw error;
    }
  }
}
