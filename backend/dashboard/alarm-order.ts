import type { ActiveAlert, Severity } from './api-types.js';

// Which alarms come first, and which still need someone. Free of DOM types: Node tests use it.

const RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/**
 * An acknowledgement counts for the phase it was given in: an alarm acknowledged while pending
 * that has fired since (its phase began after the ack) needs attention again. A new episode
 * (resolved, then fired again) has no acknowledgement at all.
 */
export function needsAttention(alert: ActiveAlert): boolean {
  return alert.acknowledged === undefined || alert.acknowledged.at < alert.since;
}

/** Firing before pending, unacknowledged before acknowledged, then by severity, then oldest first. */
export function alarmOrder(a: ActiveAlert, b: ActiveAlert): number {
  return (
    Number(b.phase === 'firing') - Number(a.phase === 'firing') ||
    Number(needsAttention(b)) - Number(needsAttention(a)) ||
    RANK[a.severity] - RANK[b.severity] ||
    a.since - b.since
  );
}
