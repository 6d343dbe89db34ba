// One fault row as a vitest test: it needs some programs (or a tmpfs), runs its fault, returns
// its count; the row prints its line of the table, then asserts that nothing was lost or doubled.
// A missing program skips the row locally, with what to install, and fails it on CI.
import { expect, it } from 'vitest';
import { findProgram, missingProgramMessage } from '../helpers/find-program.js';
import { tmpfsUnavailable } from '../helpers/tmpfs.js';
import { type TableRow, formatRow, formatTable } from './fault-table.js';
import type { FaultStack } from './stack.js';
import { type Tally, countNow, seqRanges } from './tally.js';

/** A row's set-up, the fault, and the recovery deadline: generous, a row that loses waits it out. */
const ROW_TIMEOUT_MS = 120_000;
/** After the recovery, new readings must still go through: a part that came back deaf shows here. */
const FLOWS_AGAIN_MS = 10_000;

export interface Requirement {
  /** Why the row cannot run here, or undefined when it can. */
  missing: () => string | undefined;
}

export const program = (name: string, debianPackage: string): Requirement => ({
  missing: () => (findProgram(name) ? undefined : missingProgramMessage(name, debianPackage)),
});

export const tmpfs: Requirement = { missing: tmpfsUnavailable };

export type FaultRow = (title: string, needs: readonly Requirement[], body: () => Promise<Tally>) => void;

const rows: TableRow[] = [];

/** The row-registering function of a file whose rows run on `currentStack()`. */
export function faultRows(currentStack: () => FaultStack | undefined): FaultRow {
  return (title, needs, body) => {
    const reason = needs
      .map((need) => need.missing())
      .filter((why): why is string => why !== undefined)
      .join('; ');
    if (reason !== '' && process.env.CI !== 'true') {
      console.warn(`skipping fault row "${title}": ${reason}`);
      it.skip(`${title} (${reason})`, () => undefined);
      return;
    }
    it(title, { timeout: ROW_TIMEOUT_MS }, async () => {
      if (reason !== '') throw new Error(reason);
      let tally: Tally;
      try {
        tally = await body();
      } catch (error) {
        record({ row: title, tally: countSafely(currentStack()), error: (error as Error).message });
        throw error;
      }
      const stack = currentStack();
      const flowsAgain = await stack?.flowing(10, FLOWS_AGAIN_MS).then(
        () => true,
        () => false,
      );
      if (!flowsAgain) tally.notes.push(`no new reading reached the store within ${FLOWS_AGAIN_MS / 1000} s after the recovery`);
      record({ row: title, tally });
      expect.soft(flowsAgain, 'new readings reach the store after the recovery').toBe(true);
      expect.soft(tally.doubled, 'readings stored more than once').toBe(0);
      // A count with the missing seqs in the message: a diff of hundreds of numbers says less.
      expect(tally.missing.length, `readings lost: seq ${seqRanges(tally.missing)} of 1..${tally.produced} missing from the store`).toBe(0);
    });
  };
}

function countSafely(stack: FaultStack | undefined): Tally | undefined {
  try {
    return stack && countNow(stack);
  } catch {
    return undefined; // the files are not there (set-up broke early): the error says why
  }
}

function record(row: TableRow): void {
  rows.push(row);
  console.log(formatRow(row));
}

/** For afterAll: the whole table, one line per row that ran. */
export function printFaultTable(): void {
  if (rows.length > 0) console.log(`\nfault table (${new Date().toISOString()})\n${formatTable(rows)}`);
}
