import type Database from 'better-sqlite3';

// The "sent" half of the outbox (confirm.by: backend): a reading the broker acknowledged waits
// for the backend's confirmation, with `sent_at` (when the broker took it), `sends` (how often)
// and `retry_at` (when it is sent again if still unconfirmed). Every query here goes through a
// partial index over the sent rows only, so a backlog of waiting readings costs nothing, and a
// backlog of sent ones (the backend down for hours) is only touched where it is due.

/** One run of consecutive seq. */
export type SeqRun = readonly [first: number, last: number];

/** How long a sent reading waits for its confirmation before it is sent again. */
export interface ResendTiming {
  /** After the first send, ms; it doubles with each further send of the same reading... */
  timeoutMs: number;
  /** ...up to this, ms: a backend away for hours is not answered with a flood of copies. */
  maxTimeoutMs: number;
}

export const DEFAULT_RESEND_TIMING: ResendTiming = { timeoutMs: 15_000, maxTimeoutMs: 600_000 };

/** Readings the broker took that the backend has not confirmed yet. */
export interface Unconfirmed {
  count: number;
  /** Source time of the oldest of them, Unix ms. */
  oldestTs: number | undefined;
}

/** Makes columns and indexes of the sent state; an outbox of an older agent gets them with every row waiting. */
export function migrateSentState(db: Database.Database): void {
  const columns = new Set((db.pragma('table_info(outbox)') as Array<{ name: string }>).map((column) => column.name));
  if (!columns.has('sent_at')) db.exec('ALTER TABLE outbox ADD COLUMN sent_at INTEGER');
  if (!columns.has('sends')) db.exec('ALTER TABLE outbox ADD COLUMN sends INTEGER NOT NULL DEFAULT 0');
  if (!columns.has('retry_at')) db.exec('ALTER TABLE outbox ADD COLUMN retry_at INTEGER');
  // The lanes look for waiting rows past a backlog of sent ones; the tracker for due or older
  // sent rows past a backlog of waiting ones.
  db.exec(`CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (seq) WHERE sent_at IS NULL;
    DROP INDEX IF EXISTS outbox_sent;
    CREATE INDEX IF NOT EXISTS outbox_retry ON outbox (retry_at) WHERE sent_at IS NOT NULL;
    CREATE INDEX IF NOT EXISTS outbox_sent_boot ON outbox (boot, sent_at) WHERE sent_at IS NOT NULL;`);
}

/** min(base × 2^(sends - 1), max) in SQL: the wait grows with each send of the same reading. */
const backoff = (base: string) => `min(${base} * (1 << min(max(sends - 1, 0), 30)), @max)`;

export class SentState {
  private readonly markRange: Database.Statement;
  private readonly latestSent: Database.Statement;
  private readonly removeRange: Database.Statement;
  private readonly holes: Database.Statement;
  private readonly due: Database.Statement;
  private readonly all: Database.Statement;
  private readonly future: Database.Statement;
  private readonly stats: Database.Statement;
  private readonly rangeChunk: Database.Statement;
  private readonly rangeAgain: Database.Statement;
  private readonly markTx: (runs: readonly SeqRun[], now: number) => void;
  private counted: { at: number; value: Unconfirmed } | undefined;
  private readonly confirmTx: (boot: string, runs: readonly SeqRun[]) => { removed: number; latestSentAt: number | undefined };

  constructor(
    db: Database.Database,
    private readonly timing: ResendTiming,
  ) {
    // `sends` on the right is the value before this send.
    this.markRange = db.prepare(
      `UPDATE outbox SET sent_at = @now, sends = sends + 1, retry_at = @now + min(@timeout * (1 << min(sends, 30)), @max)
       WHERE seq BETWEEN @first AND @last AND sent_at IS NULL`,
    );
    this.latestSent = db.prepare('SELECT max(sent_at) AS at FROM outbox WHERE seq BETWEEN ? AND ? AND boot = ?');
    this.removeRange = db.prepare('DELETE FROM outbox WHERE seq BETWEEN ? AND ? AND boot = ?');
    const waitAgain = 'UPDATE outbox SET sent_at = NULL, retry_at = NULL';
    this.holes = db.prepare(
      `${waitAgain} WHERE sent_at IS NOT NULL AND boot = @boot AND sent_at < @before AND sent_at <= @now - ${backoff('@grace')}`,
    );
    this.due = db.prepare(
      `${waitAgain} WHERE seq IN (SELECT seq FROM outbox WHERE sent_at IS NOT NULL AND retry_at <= @now ORDER BY retry_at LIMIT @limit)`,
    );
    this.all = db.prepare(`${waitAgain} WHERE sent_at IS NOT NULL`);
    this.future = db.prepare(
      'UPDATE outbox SET sent_at = min(sent_at, @now), retry_at = min(retry_at, @now + @timeout) WHERE sent_at IS NOT NULL AND sent_at > @now',
    );
    this.stats = db.prepare('SELECT count(*) AS count, min(ts) AS oldestTs FROM outbox WHERE sent_at IS NOT NULL');
    // By primary key, a chunk of rows at a time: a range of millions never holds the event loop (and the readings) for long.
    this.rangeChunk = db.prepare(
      'SELECT count(*) AS n, max(seq) AS last FROM (SELECT seq FROM outbox WHERE seq BETWEEN @from AND @to AND boot = @boot ORDER BY seq LIMIT @limit)',
    );
    this.rangeAgain = db.prepare(`${waitAgain} WHERE seq BETWEEN @from AND @last AND boot = @boot`);
    // Runs of one batch change in one transaction: one disk sync, and all or none.
    this.markTx = db.transaction((runs: readonly SeqRun[], now: number) => {
      for (const [first, last] of runs) this.markRange.run({ now, first, last, timeout: timing.timeoutMs, max: timing.maxTimeoutMs });
    });
    this.confirmTx = db.transaction((boot: string, runs: readonly SeqRun[]) => {
      let removed = 0;
      let latestSentAt: number | undefined;
      for (const [first, last] of runs) {
        const at = (this.latestSent.get(first, last, boot) as { at: number | null }).at;
        if (at !== null) latestSentAt = Math.max(latestSentAt ?? at, at);
        removed += this.removeRange.run(first, last, boot).changes;
      }
      return { removed, latestSentAt };
    });
  }

  /** The broker acknowledged these runs: they wait for the backend's confirmation now. */
  mark(runs: readonly SeqRun[], now: number): void {
    this.markTx(runs, now);
  }

  /**
   * The backend stored these runs of `boot`: they go, sent or not. `latestSentAt` is when the
   * broker took the last of them that had been sent: a reading of the boot the broker took before
   * that and the backend still lacks was lost on the way (the broker delivers in order and the
   * backend commits in order).
   */
  confirm(boot: string, runs: readonly SeqRun[]): { removed: number; latestSentAt: number | undefined } {
    return this.confirmTx(boot, runs);
  }

  /** Makes waiting again the sent readings of `boot` the broker took before `before`, once `grace` (growing with each send) has passed. */
  resendHoles(boot: string, before: number, graceMs: number, now: number): number {
    return this.holes.run({ boot, before, grace: graceMs, now, max: this.timing.maxTimeoutMs }).changes;
  }

  /** Makes waiting again, oldest due first, at most `limit` sent readings whose wait for a confirmation is over. */
  resendDue(now: number, limit: number): number {
    return this.due.run({ now, limit }).changes;
  }

  /** Makes every sent reading waiting again (nothing will confirm them: confirm.by broker). */
  resendAll(): number {
    return this.all.run().changes;
  }

  /**
   * Makes the readings of `boot` with `from <= seq <= to` waiting again, sent or not (the resend
   * command: the backend fills a gap), at most `limit` of them. Returns how many the outbox holds
   * there, and the last seq done (`undefined`: none left), so the caller goes on after it.
   */
  resendRange(boot: string, from: number, to: number, limit: number): { held: number; last: number | undefined } {
    const { n, last } = this.rangeChunk.get({ boot, from, to, limit }) as { n: number; last: number | null };
    if (last === null) return { held: 0, last: undefined };
    this.rangeAgain.run({ boot, from, last });
    return { held: n, last };
  }

  /** The clock stepped back: times stamped "in the future" are brought back to now, so nothing waits for them. */
  clockSteppedBack(now: number): number {
    return this.future.run({ now, timeout: this.timing.timeoutMs }).changes;
  }

  /**
   * Counts every sent row (a scan of their index: ~0.1 s per million). `maxAgeMs`: an answer that
   * old will do, so that a scraper, a probe and the `outbox` command together count at most once
   * in that time, however often they ask.
   */
  unconfirmed(maxAgeMs = 0, now = Date.now()): Unconfirmed {
    if (this.counted && now - this.counted.at <= maxAgeMs) return this.counted.value;
    const row = this.stats.get() as { count: number; oldestTs: number | null };
    const value = { count: row.count, oldestTs: row.oldestTs ?? undefined };
    this.counted = { at: now, value };
    return value;
  }
}
