import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ClockState, Quality, Reading } from '../../contract/index.js';
import { AgentError } from '../errors.js';
import { DEFAULT_RESEND_TIMING, type ResendTiming, type SeqRun, SentState, migrateSentState } from './outbox-sent.js';

export interface NewReading {
  ts: number;
  sensor: string;
  value: number | null;
  unit: string;
  quality: Quality;
  clock: ClockState;
}

/** How much the outbox may hold while the broker is away, and what gives way when it is full. */
export interface OutboxLimits {
  /** Readings kept at most; a Pi's SD card is finite. */
  maxReadings: number;
  /** Readings older than this (by source time) are dropped: past it nobody wants them late. */
  maxAgeMs: number;
  /** drop-oldest keeps the newest picture of the furnace; drop-newest keeps the history from the start of the outage. */
  whenFull: 'drop-oldest' | 'drop-newest';
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxReadings: 5_000_000,
  maxAgeMs: 30 * 24 * 3600_000,
  whenFull: 'drop-oldest',
};

/** Age pruning runs at most this often, on append: no timer, no work while idle. */
const PRUNE_EVERY_MS = 60_000;

/**
 * A reading as the outbox holds it. It has no `replay` flag: that says how a reading is sent, not
 * what it is, so the lane that sends it sets it (agent/mqtt/batch-lane.ts).
 */
export interface OutboxEntry extends Omit<Reading, 'replay'> {
  /** The agent boot the reading was taken under; a re-send keeps it, so the backend can drop the duplicate. */
  boot: string;
}

interface Row extends NewReading {
  seq: number;
  boot: string;
}

/** A reading's own columns: the sent state (outbox-sent.ts) stays inside the outbox. */
const READING_COLUMNS = 'seq, boot, ts, sensor, value, unit, quality, clock';

/**
 * The durable outbox: every reading is committed to SQLite before anything is published.
 * A reading is *waiting* until the broker acknowledges it, then *sent* (`sent_at`), and removed
 * once the backend confirms that it has stored it (`confirm`) — or, for a plant without our
 * backend, already at the broker's acknowledgement (`acknowledgeRuns`). A sent reading that is
 * not confirmed in time is made waiting again (`resend*`) and goes out once more, same boot and
 * seq. `seq` is the table's AUTOINCREMENT key, taken in the same transaction as the insert, so
 * it only grows, survives restarts and is never reused even after rows are deleted.
 */
export class DurableOutbox {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly oldest: Database.Statement;
  private readonly removeThrough: Database.Statement;
  private readonly dropOldest: Database.Statement;
  private readonly dropExpired: Database.Statement;
  private readonly oldestTs: Database.Statement;
  private readonly fromSeq: Database.Statement;
  private readonly removeRange: Database.Statement;
  private readonly anyWaiting: Database.Statement;
  private readonly removeRunsTx: (runs: readonly SeqRun[]) => number;
  /** Sent readings waiting for the backend's confirmation (confirm.by: backend). */
  readonly sent: SentState;
  private readonly sequence: Database.Statement;
  private readonly appendTx: (boot: string, readings: readonly NewReading[]) => Array<number | undefined>;
  /** Rows in the table, kept in memory: the publisher asks on every reading, and COUNT(*) grows with a backlog. */
  private rows: number;
  private lastPrune = 0;
  /** Readings dropped since this outbox was opened: by the size cap, and by the age cap. */
  readonly droppedBy = { full: 0, expired: 0 };

  constructor(
    dataDir: string,
    private readonly limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS,
    resendTiming: ResendTiming = DEFAULT_RESEND_TIMING,
  ) {
    this.db = openOutboxDb(dataDir);
    this.insert = this.db.prepare(
      `INSERT INTO outbox (boot, ts, sensor, value, unit, quality, clock, replay)
       VALUES (@boot, @ts, @sensor, @value, @unit, @quality, @clock, 0) RETURNING seq`,
    );
    this.oldest = this.db.prepare(`SELECT ${READING_COLUMNS} FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?`);
    this.removeThrough = this.db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.dropOldest = this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)');
    this.dropExpired = this.db.prepare('DELETE FROM outbox WHERE ts < ?');
    this.oldestTs = this.db.prepare('SELECT ts FROM outbox ORDER BY seq LIMIT 1');
    this.fromSeq = this.db.prepare(
      `SELECT ${READING_COLUMNS} FROM outbox WHERE seq >= ? AND seq < ? AND sent_at IS NULL ORDER BY seq LIMIT ?`,
    );
    this.removeRange = this.db.prepare('DELETE FROM outbox WHERE seq BETWEEN ? AND ?');
    this.anyWaiting = this.db.prepare('SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT 1');
    this.removeRunsTx = this.db.transaction((runs: readonly SeqRun[]) => {
      let removed = 0;
      for (const [first, last] of runs) removed += this.removeRange.run(first, last).changes;
      return removed;
    });
    this.sent = new SentState(this.db, resendTiming);
    // AUTOINCREMENT keeps the highest seq ever taken here, also after its row was deleted.
    this.sequence = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'");
    this.rows = (this.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    // Making room and inserting are one transaction: a crash between them can lose neither more nor less.
    this.appendTx = this.db.transaction((boot: string, readings: readonly NewReading[]) => this.insertMaking(boot, readings));
  }

  /** Makes room as the limits say and inserts what fits: the body of one transaction. */
  private insertMaking(boot: string, readings: readonly NewReading[]): Array<number | undefined> {
    let room = this.limits.maxReadings - this.rows;
    const excess = readings.length - room;
    if (excess > 0 && this.limits.whenFull === 'drop-oldest') {
      // The oldest rows go first; when the batch alone exceeds the cap, its own oldest go too.
      const removed = this.dropOldest.run(Math.min(excess, this.rows)).changes;
      this.rows -= removed;
      this.droppedBy.full += removed;
      room += removed;
    }
    const skip = Math.max(0, readings.length - room);
    const seqs: Array<number | undefined> = [];
    readings.forEach((reading, i) => {
      // drop-newest refuses what does not fit; drop-oldest drops the batch's own head.
      const dropped = this.limits.whenFull === 'drop-newest' ? i >= readings.length - skip : i < skip;
      if (dropped) {
        this.droppedBy.full++;
        seqs.push(undefined);
        return;
      }
      const row = this.insert.get({ ...reading, boot }) as { seq: number };
      this.rows++;
      seqs.push(row.seq);
    });
    return seqs;
  }

  /** Commits one reading and returns its seq; `undefined` if the outbox is full and keeps its oldest. */
  append(boot: string, reading: NewReading, now = Date.now()): number | undefined {
    return this.appendMany(boot, [reading], now)[0];
  }

  /**
   * Commits readings in one transaction (one disk sync for a burst of lines, not one each) and
   * returns their seqs, in order; `undefined` for a reading the full outbox refused.
   */
  appendMany(boot: string, readings: readonly NewReading[], now = Date.now()): Array<number | undefined> {
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.pruneExpired(now);
    return readings.length === 0 ? [] : this.appendTx(boot, readings);
  }

  /** Drops readings past the age cap; returns how many. */
  pruneExpired(now = Date.now()): number {
    this.lastPrune = now;
    const removed = this.dropExpired.run(now - this.limits.maxAgeMs).changes;
    this.rows -= removed;
    this.droppedBy.expired += removed;
    return removed;
  }

  /** Readings dropped by the caps since this outbox was opened. */
  get dropped(): number {
    return this.droppedBy.full + this.droppedBy.expired;
  }

  /** The highest seq ever taken (0 for a new outbox); the next reading gets a higher one. */
  lastSeq(): number {
    return (this.sequence.get() as { seq: number } | undefined)?.seq ?? 0;
  }

  /** Source-time age of the oldest reading waiting, in ms; 0 when empty. */
  oldestAgeMs(now = Date.now()): number {
    const row = this.oldestTs.get() as { ts: number } | undefined;
    return row ? Math.max(0, now - row.ts) : 0;
  }

  /** The oldest waiting readings, up to `limit`, all of the same boot (one batch carries one boot). */
  peek(limit: number): OutboxEntry[] {
    return sameBoot(this.oldest.all(limit) as Row[]);
  }

  /** The oldest waiting readings with `from <= seq < below`, up to `limit`, all of the same boot. */
  peekRange(from: number, below: number, limit: number): OutboxEntry[] {
    return sameBoot(this.fromSeq.all(from, below, limit) as Row[]);
  }

  /** Whether any reading waits to be sent (sent ones wait only for their confirmation). */
  get hasWaiting(): boolean {
    return this.anyWaiting.get() !== undefined;
  }

  /** The broker acknowledged these readings: they wait for the backend's confirmation now. */
  markSent(entries: readonly { seq: number }[], now = Date.now()): void {
    this.sent.mark(runsOf(entries), now);
  }

  /** The broker acknowledged these readings, and nothing more is waited for: forget them. */
  acknowledgeRuns(entries: readonly { seq: number }[]): void {
    this.rows -= this.removeRunsTx(runsOf(entries));
  }

  /** The backend has stored these runs of `boot`: forget them (see SentState.confirm). */
  confirm(boot: string, runs: readonly SeqRun[]): { removed: number; latestSentAt: number | undefined } {
    const confirmed = this.sent.confirm(boot, runs);
    this.rows -= confirmed.removed;
    return confirmed;
  }

  /** Forgets every reading up to and including `seq`: the broker has them. */
  acknowledge(seq: number): void {
    this.rows -= this.removeThrough.run(seq).changes;
  }

  get depth(): number {
    return this.rows;
  }

  close(): void {
    this.db.close();
  }
}

/** Runs of consecutive seq of entries in ascending seq order. */
export function runsOf(entries: readonly { seq: number }[]): SeqRun[] {
  const runs: Array<[number, number]> = [];
  for (const { seq } of entries) {
    const run = runs[runs.length - 1];
    if (run && seq === run[1] + 1) run[1] = seq;
    else runs.push([seq, seq]);
  }
  return runs;
}

/** Cuts at the first change of boot: acknowledging a batch must never cover a row not in it. */
function sameBoot(rows: Row[]): OutboxEntry[] {
  const end = rows.findIndex((row) => row.boot !== rows[0]?.boot);
  return rows.slice(0, end < 0 ? rows.length : end);
}

/**
 * How long a write waits for a lock held by another process (an operator's sqlite3 shell, a
 * backup). Only the agent writes its outbox, so nothing inside it waits. Unlike the backend, which
 * fails at once and lets the broker resend (backend/store/sqlite-file.ts), the agent waits: a
 * reading it cannot write is lost. The wait holds the event loop (serial input queues in the
 * kernel meanwhile; sending, /healthz and MQTT keepalive pause), which is the lesser harm.
 * better-sqlite3's default is the same 5 s: this names it and says why.
 */
const BUSY_TIMEOUT_MS = 5000;

/** Opens (or creates) the outbox file and brings its tables up to date. */
function openOutboxDb(dataDir: string): Database.Database {
  try {
    mkdirSync(dataDir, { recursive: true });
    const db = new Database(join(dataDir, 'outbox.sqlite'), { timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    // FULL: a committed reading survives a power cut too, not only a crash of the process.
    db.pragma('synchronous = FULL');
    // `replay` is a column of earlier versions, kept so their outbox files open as they are: written 0, never read.
    db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      boot TEXT NOT NULL, ts INTEGER NOT NULL, sensor TEXT NOT NULL, value REAL, unit TEXT NOT NULL,
      quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL)`);
    // Age pruning finds the expired rows through this index instead of scanning a backlog of millions.
    db.exec('CREATE INDEX IF NOT EXISTS outbox_ts ON outbox (ts)');
    migrateSentState(db);
    return db;
  } catch (error) {
    // Also a file that is not a database (SQLITE_NOTADB): say which file, never start without an outbox.
    throw new AgentError('AGENT_OUTBOX_OPEN_FAILED', `cannot open the outbox in ${dataDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
