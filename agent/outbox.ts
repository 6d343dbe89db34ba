import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ClockState, Quality, Reading } from '../contract/index.js';
import { AgentError } from './errors.js';

export interface NewReading {
  ts: number;
  sensor: string;
  value: number | null;
  unit: string;
  quality: Quality;
  clock: ClockState;
  /** Read while the broker was unreachable: it will go out as a replay. */
  replay: boolean;
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

export interface OutboxEntry extends Reading {
  /** The agent boot the reading was taken under; a re-send keeps it, so the backend can drop the duplicate. */
  boot: string;
}

interface Row {
  seq: number;
  boot: string;
  ts: number;
  sensor: string;
  value: number | null;
  unit: string;
  quality: Quality;
  clock: ClockState;
  replay: number;
}

/**
 * The durable outbox: every reading is committed to SQLite before anything is published,
 * and removed only once the broker has acknowledged it. `seq` is the table's AUTOINCREMENT
 * key, taken in the same transaction as the insert, so it only grows, survives restarts
 * and is never reused even after rows are deleted.
 */
export class DurableOutbox {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly oldest: Database.Statement;
  private readonly removeThrough: Database.Statement;
  private readonly dropOldest: Database.Statement;
  private readonly dropExpired: Database.Statement;
  private readonly oldestTs: Database.Statement;
  private readonly appendTx: (boot: string, reading: NewReading) => number | undefined;
  /** Rows in the table, kept in memory: the publisher asks on every reading, and COUNT(*) grows with a backlog. */
  private rows: number;
  private lastPrune = 0;
  /** Readings dropped by the caps since this outbox was opened. */
  dropped = 0;

  constructor(
    dataDir: string,
    private readonly limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS,
  ) {
    try {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(join(dataDir, 'outbox.sqlite'));
      this.db.pragma('journal_mode = WAL');
      // FULL: a committed reading survives a power cut too, not only a crash of the process.
      this.db.pragma('synchronous = FULL');
      this.db.exec(`CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        boot TEXT NOT NULL, ts INTEGER NOT NULL, sensor TEXT NOT NULL, value REAL, unit TEXT NOT NULL,
        quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL)`);
    } catch (error) {
      // Also a file that is not a database (SQLITE_NOTADB): say which file, never start without an outbox.
      throw new AgentError('AGENT_OUTBOX_OPEN_FAILED', `cannot open the outbox in ${dataDir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.insert = this.db.prepare(
      `INSERT INTO outbox (boot, ts, sensor, value, unit, quality, clock, replay)
       VALUES (@boot, @ts, @sensor, @value, @unit, @quality, @clock, @replay) RETURNING seq`,
    );
    this.oldest = this.db.prepare('SELECT * FROM outbox ORDER BY seq LIMIT ?');
    this.removeThrough = this.db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.dropOldest = this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)');
    this.dropExpired = this.db.prepare('DELETE FROM outbox WHERE ts < ?');
    this.oldestTs = this.db.prepare('SELECT ts FROM outbox ORDER BY seq LIMIT 1');
    this.rows = (this.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    // Making room and inserting are one transaction: a crash between them can lose neither more nor less.
    this.appendTx = this.db.transaction((boot: string, reading: NewReading) => {
      const excess = this.rows + 1 - this.limits.maxReadings;
      if (excess > 0) {
        if (this.limits.whenFull === 'drop-newest') {
          this.dropped++;
          return undefined;
        }
        const removed = this.dropOldest.run(excess).changes;
        this.rows -= removed;
        this.dropped += removed;
      }
      const row = this.insert.get({ ...reading, boot, replay: reading.replay ? 1 : 0 }) as { seq: number };
      this.rows++;
      return row.seq;
    });
  }

  /** Commits one reading and returns its seq; `undefined` if the outbox is full and keeps its oldest. */
  append(boot: string, reading: NewReading, now = Date.now()): number | undefined {
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.pruneExpired(now);
    return this.appendTx(boot, reading);
  }

  /** Drops readings past the age cap; returns how many. */
  pruneExpired(now = Date.now()): number {
    this.lastPrune = now;
    const removed = this.dropExpired.run(now - this.limits.maxAgeMs).changes;
    this.rows -= removed;
    this.dropped += removed;
    return removed;
  }

  /** Source-time age of the oldest reading waiting, in ms; 0 when empty. */
  oldestAgeMs(now = Date.now()): number {
    const row = this.oldestTs.get() as { ts: number } | undefined;
    return row ? Math.max(0, now - row.ts) : 0;
  }

  /** The oldest readings, up to `limit`, all of the same boot (one batch carries one boot). */
  peek(limit: number): OutboxEntry[] {
    const rows = this.oldest.all(limit) as Row[];
    // Stop at the first change of boot: acknowledging the last seq of the batch must never cover a row not in it.
    const end = rows.findIndex((row) => row.boot !== rows[0]?.boot);
    return rows.slice(0, end < 0 ? rows.length : end).map((row) => ({ ...row, replay: row.replay === 1 }));
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
