import { type ClockState, type Command, type RejectCause, decodeCommand, formatIssues } from '../../contract/index.js';

/** A request is a few hundred bytes; anything far past that is junk, refused before parsing. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** The longest any command runs, whatever its deadline says: a far-off deadline must not hold a waiter for hours. */
export const MAX_COMMAND_MS = 60_000;
/** How long a command may run when the agent cannot read the deadline against its own clock. */
export const UNSYNCED_COMMAND_MS = 10_000;

export type ReadRequest =
  | { kind: 'ok'; request: Command }
  /** Not a valid request, but it names a requestId: it is answered (refused). */
  | { kind: 'malformed'; requestId: string; reason: string }
  /** Nothing to answer to: counted, logged and dropped. */
  | { kind: 'unreadable'; cause: RejectCause; reason: string };

/** Decodes a request (contract `Command`); for a malformed one, the requestId when there is a usable one. */
export function readRequest(payload: Uint8Array): ReadRequest {
  const decoded = decodeCommand(payload, MAX_REQUEST_BYTES);
  if (decoded.ok) return { kind: 'ok', request: decoded.value };
  const reason = formatIssues(decoded.issues);
  // Only JSON of the wrong shape can still carry a requestId; what does not parse carries nothing.
  const requestId = decoded.cause === 'schema' ? requestIdOf(payload) : undefined;
  return requestId === undefined ? { kind: 'unreadable', cause: decoded.cause, reason } : { kind: 'malformed', requestId, reason };
}

function requestIdOf(payload: Uint8Array): string | undefined {
  try {
    const value = (JSON.parse(Buffer.from(payload).toString('utf8')) as { requestId?: unknown } | null)?.requestId;
    // The contract's bounds: a reply must be able to carry it.
    return typeof value === 'string' && value.length >= 1 && value.length <= 64 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a request arrived past its deadline. Judged only while the agent's clock is known to be
 * synchronised: the deadline is the requester's clock, and an agent whose clock is unsynced (a Pi
 * without a battery clock before NTP answers can be hours off) cannot tell a late request from its
 * own wrong time. Refusing then would refuse every command for a clock problem, so it runs them,
 * and a requester that gave up drops the late reply.
 */
export function isExpired(deadline: number, receivedAt: number, clock: ClockState): boolean {
  return clock === 'synced' && receivedAt > deadline;
}

/** How long a command may run: until its deadline by a synchronised clock, a fixed time otherwise; never over MAX_COMMAND_MS. */
export function commandBudgetMs(deadline: number, receivedAt: number, clock: ClockState): number {
  const left = deadline - receivedAt;
  if (clock === 'synced') return Math.min(Math.max(left, 0), MAX_COMMAND_MS);
  // Unsynced: the time left by our clock is used when it looks plausible; a negative one says our clock is ahead.
  return left > 0 ? Math.min(left, MAX_COMMAND_MS) : UNSYNCED_COMMAND_MS;
}
