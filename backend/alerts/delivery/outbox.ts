import type Database from 'better-sqlite3';
import type { ChannelItem } from '../types.js';

/** One row of a channel's queue in `alert_outbox` (alerts/store/alert-db.ts). */
export interface OutboxRow {
  id: number;
  /** Undefined when the stored JSON does not parse: the dispatcher records it as failed. */
  item: ChannelItem | undefined;
  /** The stored text, kept for the log when it does not parse. */
  raw: string;
  attempts: number;
  enqueuedAt: number;
  nextAttemptAt: number;
  lastError: string | null;
}

interface RawRow {
  id: number;
  item: string;
  attempts: number;
  enqueued_at: number;
  next_attempt_at: number;
  last_error: string | null;
}

const COLUMNS = 'id, item, attempts, enqueued_at, next_attempt_at, last_error';

/**
 * One channel's queue in `alert_outbox`. A channel delivers strictly in order, so only the head
 * (the oldest pending row) is ever attempted; rows that failed for good stay, state 'failed', for
 * inspection, and no longer hold up the queue. Every call is one short statement on the index
 * (channel, state, id).
 */
export class ChannelOutbox {
  private readonly headStmt: Database.Statement<[string], RawRow>;
  private readonly insertStmt: Database.Statement<[string, string, number, number]>;
  private readonly deleteStmt: Database.Statement<[number]>;
  private readonly retryStmt: Database.Statement<[string, number, number]>;
  private readonly failStmt: Database.Statement<[string, number]>;
  private readonly retryNowStmt: Database.Statement<[number, string, number]>;
  private readonly countStmt: Database.Statement<[string], { n: number }>;
  private readonly failedStmt: Database.Statement<[string, number], RawRow>;

  constructor(
    db: Database.Database,
    readonly channel: string,
  ) {
    this.headStmt = db.prepare(`SELECT ${COLUMNS} FROM alert_outbox WHERE channel = ? AND state = 'pending' ORDER BY id LIMIT 1`);
    this.insertStmt = db.prepare(
      `INSERT INTO alert_outbox (channel, item, state, enqueued_at, next_attempt_at) VALUES (?, ?, 'pending', ?, ?)`,
    );
    this.deleteStmt = db.prepare('DELETE FROM alert_outbox WHERE id = ?');
    this.retryStmt = db.prepare('UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?');
    this.failStmt = db.prepare(`UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?`);
    this.retryNowStmt = db.prepare(
      `UPDATE alert_outbox SET next_attempt_at = ? WHERE channel = ? AND state = 'pending' AND next_attempt_at > ?`,
    );
    this.countStmt = db.prepare(`SELECT count(*) AS n FROM alert_outbox WHERE channel = ? AND state = 'pending'`);
    this.failedStmt = db.prepare(`SELECT ${COLUMNS} FROM alert_outbox WHERE channel = ? AND state = 'failed' ORDER BY id DESC LIMIT ?`);
  }

  /**
   * Appends an item, due at once. The engine may run the same INSERT itself inside its own
   * transaction (better-sqlite3 is synchronous, so calling this inside `db.transaction` works too).
   */
  enqueue(item: ChannelItem, now: number): number {
    return Number(this.insertStmt.run(this.channel, JSON.stringify(item), now, now).lastInsertRowid);
  }

  /** The head of the queue if it is due at `now`; nothing if the queue is empty or the head waits. */
  next(now: number): OutboxRow | undefined {
    const head = this.head();
    return head !== undefined && head.nextAttemptAt <= now ? head : undefined;
  }

  /** The oldest pending row, due or not. */
  head(): OutboxRow | undefined {
    const row = this.headStmt.get(this.channel);
    return row === undefined ? undefined : toRow(row);
  }

  /** When the head is due (Unix ms), or undefined when nothing is pending. */
  nextDueAt(): number | undefined {
    return this.head()?.nextAttemptAt;
  }

  /** The far side has it: the row goes. */
  delivered(id: number): void {
    this.deleteStmt.run(id);
  }

  retryLater(id: number, error: string, nextAttemptAt: number): void {
    this.retryStmt.run(error, nextAttemptAt, id);
  }

  /** Given up on: kept, state 'failed', with the last error. */
  failed(id: number, error: string): void {
    this.failStmt.run(error, id);
  }

  /** Pending rows waiting for a backoff become due at `now` (the channel is back). */
  retryNow(now: number): void {
    this.retryNowStmt.run(now, this.channel, now);
  }

  pendingCount(): number {
    return this.countStmt.get(this.channel)?.n ?? 0;
  }

  /** The newest rows given up on, newest first. */
  failedRows(limit = 100): OutboxRow[] {
    return this.failedStmt.all(this.channel, limit).map(toRow);
  }
}

function toRow(row: RawRow): OutboxRow {
  let item: ChannelItem | undefined;
  try {
    item = JSON.parse(row.item) as ChannelItem;
  } catch {
    item = undefined; // reported by the dispatcher, which has the logger
  }
  return {
    id: row.id,
    item,
    raw: row.item,
    attempts: row.attempts,
    enqueuedAt: row.enqueued_at,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
  };
}
