import type Database from 'better-sqlite3';
import type { GapQuery, Page, SeqGap } from './reading-store.js';
import { type SeqRange, SeqRangeSet } from './seq-range-set.js';

// Gap detection. Per (device, boot), seq_ranges holds the contiguous runs of stored seq; a hole
// between two runs is a gap. A late reading (reordering, outbox replay) shrinks or closes a hole,
// so the gaps reported are those still open, not every hiccup ever seen.

export type { SeqRange, SeqRun } from './seq-range-set.js';

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
      'SELECT first_seq, last_seq, first_ts, last_ts FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq < ? ORDER BY first_seq DESC LIMIT 1',
    );
    this.within = db.prepare(
      'SELECT first_seq, last_seq, first_ts, last_ts FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq BETWEEN ? AND ? ORDER BY first_seq',
    );
    this.anyAfter = db.prepare('SELECT 1 FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq > ? LIMIT 1');
    this.remove = db.prepare('DELETE FROM seq_ranges WHERE device = ? AND boot = ? AND first_seq = ?');
    this.insert = db.prepare('INSERT INTO seq_ranges (device, boot, first_seq, last_seq, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?)');
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
   * The ranges of (device, boot) that writing seq within [from, to] can touch, to work on in memory
   * (see seq-range-set.ts). Runs inside the caller's transaction.
   */
  near(device: string, boot: string, from: number, to: number): SeqRangeSet {
    const left = this.before.get(device, boot, from) as SeqRange | undefined;
    const within = this.within.all(device, boot, from, to + 1) as SeqRange[];
    const moreAfter = this.anyAfter.get(device, boot, to + 1) !== undefined;
    return new SeqRangeSet(left ? [left, ...within] : within, moreAfter);
  }

  /** Writes back what changed in `set` since `near` loaded it. Runs inside the caller's transaction. */
  save(device: string, boot: string, set: SeqRangeSet): void {
    const { removed, added } = set.changes();
    for (const range of removed) this.remove.run(device, boot, range.first_seq);
    for (const range of added) this.insert.run(device, boot, range.first_seq, range.last_seq, range.first_ts, range.last_ts);
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
