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
  /** Rows in the table, kept in memory: the publisher asks on every reading, and COUNT(*) grows with a backlog. */
  private rows: number;

  constructor(dataDir: string) {
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
    this.rows = (this.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  }

  /** Commits one reading and returns its seq. */
  append(boot: string, reading: NewReading): number {
    const row = this.insert.get({ ...reading, boot, replay: reading.replay ? 1 : 0 }) as { seq: number };
    this.rows++;
    return row.seq;
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
