// Which of two `status` messages of one device says how it is now. The registry and the
// `offline` alert rule both judge by it, so /api/v1/devices and the alerts never disagree.
//
// The times involved, for one boot of an agent making connections 1, 2, ... k:
//   Ck  when connection k was attempted: the `ts` of its will (contract: "for a will: when it connected")
//   Bk  when its birth was published, after the CONNACK: Ck <= Bk < Ck+1
// So a will is OLDER than the birth it follows, and time alone cannot tell the will of the
// current connection (Ck, which must win) from that of the one before (Ck-1, which must not).
// What tells them apart is the newest time the boot showed before the current birth: Bk-1.
// Ck > Bk-1 >= Ck-1. That time is kept with the status as its `floor`.
// Across boots only the times compare: a boot's statuses all come after the previous boot's.

export interface StatusMark {
  state: 'online' | 'offline';
  /** The agent's time of the status (for a will: when its connection was attempted), Unix ms. */
  ts: number;
  boot?: string | undefined;
  /** The newest `ts` of this boot before this status; undefined when none was seen (a new boot, or the first status). */
  floor?: number | undefined;
}

/** `newer`: it says how the device is now; `same`: a repeat of the status held; `older`: stale, ignore it. */
export type StatusVerdict = 'newer' | 'same' | 'older';

type Incoming = Pick<StatusMark, 'state' | 'ts' | 'boot'>;

export function judgeStatus(current: StatusMark | undefined, incoming: Incoming): StatusVerdict {
  if (current === undefined) return 'newer';
  // A retained message resent on re-subscription, or a QoS 1 redelivery: what it says is known already.
  if (incoming.state === current.state && incoming.ts === current.ts && incoming.boot === current.boot) return 'same';
  if (incoming.boot !== current.boot) return incoming.ts >= current.ts ? 'newer' : 'older';
  const floor = current.floor ?? Number.NEGATIVE_INFINITY;
  if (incoming.state === 'online') {
    // A birth comes after everything its boot said before it, the will of its own connection included.
    return incoming.ts > Math.max(current.ts, floor) ? 'newer' : 'older';
  }
  // The will of the current connection (or a clean goodbye) is newer than every earlier birth of
  // the boot; the will of an earlier connection is not.
  if (current.state === 'online') return incoming.ts > floor ? 'newer' : 'older';
  // Offline after offline: the later will means a birth in between was missed.
  return incoming.ts > current.ts ? 'newer' : 'older';
}

/** The mark to keep once `incoming` is judged newer than `current`. */
export function markAfter(current: StatusMark | undefined, incoming: Incoming): StatusMark {
  const sameBoot = current !== undefined && current.boot === incoming.boot;
  const floor = sameBoot ? Math.max(current.floor ?? Number.NEGATIVE_INFINITY, current.ts) : undefined;
  return { state: incoming.state, ts: incoming.ts, boot: incoming.boot, floor };
}
