import type { DurableOutbox } from '../outbox/outbox.js';
import { type CommandHandler, ok, refused } from './handler.js';

/** Rows made waiting again per step: each step is one short write, then the readings get the event loop back. */
const CHUNK = 5000;

const NOT_HELD = 'readings the outbox no longer holds (confirmed by the backend and deleted, or dropped by its caps) cannot be sent again';

/**
 * resend {boot, fromSeq, toSeq}: the readings of that boot and seq range that the outbox still
 * holds are made waiting again, sent or not, and the publisher sends them once more (same boot and
 * seq, marked replay; the backend drops what it already has). For the backend's gap filling. The
 * reply says how many were held, and how many of the range were not.
 */
export function resendHandler(outbox: DurableOutbox, publisherResend: () => void): CommandHandler<'resend'> {
  return async ({ boot, fromSeq, toSeq }, { signal, waitingFor }) => {
    if (toSeq < fromSeq) return refused('AGENT_COMMAND_BAD_ARGS', `argument toSeq: ${toSeq} is below fromSeq ${fromSeq}`);
    let held = 0;
    let from = fromSeq;
    waitingFor(() => `${held} readings made waiting again so far, up to seq ${from - 1}`);
    for (;;) {
      const step = outbox.sent.resendRange(boot, from, toSeq, CHUNK);
      held += step.held;
      if (step.held > 0) publisherResend();
      if (step.last === undefined || step.held < CHUNK || step.last >= toSeq) break;
      from = step.last + 1;
      // A range of millions is done in steps, the readings of the furnace going on between them.
      await new Promise((resolve) => setImmediate(resolve));
      signal.throwIfAborted();
    }
    return ok({
      boot,
      fromSeq,
      toSeq,
      held,
      notHeld: toSeq - fromSeq + 1 - held,
      ...(held < toSeq - fromSeq + 1 ? { note: NOT_HELD } : {}),
    });
  };
}
