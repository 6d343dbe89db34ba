import type Database from 'better-sqlite3';
import type { GapQuery, Page, SeqGap } from './reading-store.js';

// Gap detection. Per (device, boot), seq_ranges holds the contiguous runs of stored seq; a hole
// between two runs is a gap. A late reading (reordering, outbox replay) shrinks or closes a hole,
// so the gaps reported are those still open, not every hiccup ever seen.

interface Range {
  first_seq: number;
  last_seq: number;
  first_ts: number;
  last_ts: number;
}

/** One run of consecutive seq just stored, with the source times of its ends. */
export interface SeqRun {
  first: number;
  last: number;
  firstTs: number;
  lastTs: number;
}

/** Consecutive runs of a batch's stored readings (seq strictly increases within a batch, by contract). */
export function runsOf(stored: ReadonlyArray<{ seq: number; ts: number }>): SeqRun[] {
  const runs: SeqRun[] = [];
  for (const { seq, ts } of stored) {
    const run = runs[runs.length - 1];
    if (run && seq === run.last + 1) {
      run.last = seq;
      run.lastTs = ts;
    } else {
      runs.push({ first: seq, last: seq, firstTs: ts, lastTs: ts });
    }
  }
  return runs;
}

export class SeqRanges {
  private readonly before: Database.Statement;
  private readonly within: Database.Statement;
  private readonly anyAfter: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly insert: Database.Statement;
  private readonly overlapping: Database.Statement;
  private readonly listAll: Database.Statement;
  private readonly listBoot: Database.Statement;

  constructor(db: Database.Database) {
    this.before = db.prepare(
      'SELECT * FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq < ? ORDER BY first_seq DESC LIMIT 1',
    );
    // Ranges starting inside the run or right after it; more than one only after retention let old seq in again.
    this.within = db.prepare('SELECT * FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq BETWEEN ? AND ? ORDER BY first_seq');
    this.anyAfter = db.prepare('SELECT 1 FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq > ? LIMIT 1');
    this.remove = db.prepare('DELETE FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq = ?');
    this.insert = db.prepare(
      'INSERT INTO seq_ranges (device, boot, first_seq, last_seq, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?)',
    );
    // The lowest run overlapping [from, to] may start below `from`: it is found through the run before `from`.
    this.overlapping = db.prepare(
      `SELECT first_seq, last_seq FROM seq_ranges WHERE device = @device AND boot = @boot AND first_seq <= @to
         AND first_seq >= coalesce((SELECT max(first_seq) FROM seq_ranges WHERE device = @device AND boot = @boot AND first_seq <= @from), @from)
         AND last_seq >= @from
       ORDER BY first_seq LIMIT @limit`,
    );
    // A gap is a pair of neighbouring ranges: the window function pairs each range with the next one.
    const gapsSql = (bootFilter: string) => `
      SELECT device, boot, last_seq + 1 AS fromSeq, next_first - 1 AS toSeq, last_ts AS afterTs, next_ts AS beforeTs FROM (
        SELECT device, boot, last_seq, last_ts,
          lead(first_seq) OVER w AS next_first, lead(first_ts) OVER w AS next_ts
        FROM seq_ranges WHERE device = @device ${bootFilter}
        WINDOW w AS (PARTITION BY boot ORDER BY first_seq)
      ) WHERE next_first IS NOT NULL AND (boot, last_seq + 1) > (@afterBoot, @afterSeq)
      ORDER BY boot, fromSeq LIMIT @limit`;
    this.listAll = db.prepare(gapsSql(''));
    this.listBoot = db.prepare(gapsSql('AND boot = @boot'));
  }

  /**
   * Records a run as stored, merging it with its neighbours. Returns how the number of open gaps
   * of this (device, boot) changed: +1 a new hole, 0 a hole shrank or the series grew, -1 a hole closed.
   * Runs inside the caller's transaction.
   */
  add(device: string, boot: string, run: SeqRun): number {
    let { first, last, firstTs, lastTs } = run;
    let merged = 0;
    const left = this.before.get(device, boot, first) as Range | undefined;
    if (left && left.last_seq >= first - 1) {
      this.remove.run(device, boot, left.first_seq);
      first = left.first_seq;
      firstTs = left.first_ts;
      if (left.last_seq > last) ({ last_seq: last, last_ts: lastTs } = left);
      merged++;
    }
    for (const right of this.within.all(device, boot, run.first, last + 1) as Range[]) {
      this.remove.run(device, boot, right.first_seq);
      if (right.last_seq > last) ({ last_seq: last, last_ts: lastTs } = right);
      merged++;
    }
    const hadNeighbours = left !== undefined || merged > 0 || this.anyAfter.get(device, boot, last) !== undefined;
    this.insert.run(device, boot, first, last, firstTs, lastTs);
    return hadNeighbours ? 1 - merged : 0;
  }

  /** The stored runs of a (device, boot) that overlap [from, to], ascending, at most `limit`. */
  runsOverlapping(device: string, boot: string, from: number, to: number, limit: number): Array<[number, number]> {
    const rows = this.overlapping.all({ device, boot, from, to, limit }) as Array<{ first_seq: number; last_seq: number }>;
    return rows.map((row) => [row.first_seq, row.last_seq]);
  }

  list(query: GapQuery): Page<SeqGap, { boot: string; fromSeq: number }> {
    const params = {
      device: query.device,
      boot: query.boot ?? null,
      afterBoot: query.after?.boot ?? '',
      afterSeq: query.after?.fromSeq ?? Number.MIN_SAFE_INTEGER,
      limit: query.limit + 1,
    };
    const statement = query.boot === undefined ? this.listAll : this.listBoot;
    const rows = statement.all(params) as SeqGap[];
    const truncated = rows.length > query.limit;
    const items = truncated ? rows.slice(0, query.limit) : rows;
    const last = items[items.length - 1];
    return { items, truncated, next: truncated && last ? { boot: last.boot, fromSeq: last.fromSeq } : undefined };
  }
}
