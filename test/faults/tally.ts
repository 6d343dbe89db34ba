// The count of one fault row, from outside: how many readings the agent took (its highest seq
// when the fault ended), which of them the backend stored, how many twice, which never came,
// and how long after the fault the store held them all.
import { waitFor } from '../helpers/wait-for.js';
import type { FaultStack } from './stack.js';

export interface Tally {
  /** The agent's highest seq when the fault ended (seq is kept across agent restarts). */
  produced: number;
  /** Distinct seqs of 1..produced in the store. */
  stored: number;
  /** Seqs stored more than once (any seq, not only up to `produced`). */
  doubled: number;
  /** Seqs of 1..produced missing once the recovery deadline passed. */
  missing: number[];
  /** Readings the agent could not commit and counted as lost at the source (row 9), when known. */
  refusedAtSource?: number;
  /** From the end of the fault until the store held 1..produced; undefined if it never did. */
  recoverMs: number | undefined;
  /** What else the row saw (a crash, a part that did not come back). */
  notes: string[];
}

/** Long enough for reconnect back-offs (agent ≤ 1 s, backend 1 s, store retries ≤ 5 s), a hole's grace (3 s, doubling per send) and the replay, on a loaded 2-core CI machine. */
export const RECOVERY_DEADLINE_MS = 20_000;

/**
 * Call at the end of the fault: takes `produced` now, then polls the store until it holds every
 * seq from 1 to it, or the deadline passes, and counts.
 */
export async function tallyRecovery(stack: FaultStack, faultEnd = Date.now(), deadlineMs = RECOVERY_DEADLINE_MS): Promise<Tally> {
  const produced = stack.produced();
  const recoveredAt = await waitFor(() => missingUpTo(stack.stored(), produced).length === 0 && Date.now(), {
    timeoutMs: Math.max(1, faultEnd + deadlineMs - Date.now()),
    intervalMs: 100,
    what: `the store to hold seq 1..${produced}`,
  }).catch((error: Error) => {
    if (error.message.startsWith('timed out')) return undefined; // not recovered: counted below, asserted by the row
    throw error;
  });
  return count(stack, produced, recoveredAt === undefined ? undefined : recoveredAt - faultEnd);
}

/** The count as it stands, without waiting: for a row that broke before its recovery. */
export function countNow(stack: FaultStack): Tally {
  return count(stack, stack.produced(), undefined);
}

function count(stack: FaultStack, produced: number, recoverMs: number | undefined): Tally {
  const stored = stack.stored();
  const missing = missingUpTo(stored, produced);
  const doubled = [...stored.values()].filter((rows) => rows > 1).length;
  return { produced, stored: produced - missing.length, doubled, missing, recoverMs, notes: [] };
}

function missingUpTo(stored: Map<number, number>, produced: number): number[] {
  const missing: number[] = [];
  for (let seq = 1; seq <= produced; seq++) if (!stored.has(seq)) missing.push(seq);
  return missing;
}

/** 3-7, 12, 15-16: runs of consecutive seqs. */
export function seqRanges(seqs: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < seqs.length;) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === (seqs[j] ?? 0) + 1) j++;
    runs.push(i === j ? String(seqs[i]) : `${String(seqs[i])}-${String(seqs[j])}`);
    i = j + 1;
  }
  return runs.join(', ');
}
