import type { ConfirmationStats } from '../outbox/confirmation-tracker.js';
import type { DurableOutbox } from '../outbox/outbox.js';
import { type CommandHandler, ok } from './handler.js';

export interface OutboxSources {
  outbox: DurableOutbox;
  /** Who confirms a reading so it is forgotten (the agent's confirm.by). */
  confirmBy: 'backend' | 'broker';
  /** The confirmation tracker's figures (confirm.by backend only). */
  confirmations?: Pick<ConfirmationStats, 'lastConfirmedAt'>;
  /** Whether a backlog is being sent. */
  replaying: () => boolean;
}

/**
 * outbox: what the agent holds. `depth` readings in all, of which `unconfirmed` were taken by the
 * broker and wait for the backend's confirmation; the source age of the oldest of each; and the
 * confirmation lag, the time since a confirmation last let the agent forget readings (null: none
 * yet since the start, or confirm.by broker, where the broker's PUBACK is the confirmation).
 */
export function outboxHandler(
  { outbox, confirmBy, confirmations, replaying }: OutboxSources,
  now: () => number = Date.now,
): CommandHandler<'outbox'> {
  return () => {
    const at = now();
    // Counts the sent rows (an indexed scan): at most once a second, however often it is asked.
    const { count, oldestTs } = outbox.sent.unconfirmed(1000, at);
    const lastConfirmedAt = confirmations?.lastConfirmedAt;
    return ok({
      depth: outbox.depth,
      oldestAgeMs: outbox.oldestAgeMs(at),
      unconfirmed: count,
      oldestUnconfirmedAgeMs: oldestTs === undefined ? null : Math.max(0, at - oldestTs),
      confirmBy,
      confirmationLagMs: lastConfirmedAt === undefined ? null : Math.max(0, at - lastConfirmedAt),
      lastSeq: outbox.lastSeq(),
      dropped: { ...outbox.droppedBy },
      replaying: replaying(),
    });
  };
}
