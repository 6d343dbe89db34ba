import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentError } from '../errors.js';
import { DurableOutbox, type NewReading } from './outbox.js';

const BOOT_A = '01JBOOTA';
const BOOT_B = '01JBOOTB';

function reading(overrides: Partial<NewReading> = {}): NewReading {
  return { ts: 1764340000000, sensor: 'tc1', value: 812.5, unit: 'C', quality: 'good', clock: 'synced', ...overrides };
}

describe('DurableOutbox', () => {
  let dir: string;
  const opened: DurableOutbox[] = [];
  /** Opens an outbox in `dir` that afterEach closes. */
  const open = (folder = dir) => {
    const outbox = new DurableOutbox(folder);
    opened.push(outbox);
    return outbox;
  };
  const close = (outbox: DurableOutbox) => {
    outbox.close();
    opened.splice(opened.indexOf(outbox), 1);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-test-'));
  });
  afterEach(() => {
    opened.splice(0).forEach((outbox) => outbox.close());
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns a growing seq from append, starting at 1', () => {
    const outbox = open();
    const seqs = [1, 2, 3, 4].map((i) => outbox.append(BOOT_A, reading({ ts: 1764340000000 + i })));
    expect(seqs).toEqual([1, 2, 3, 4]);
    expect(outbox.depth).toBe(4);
  });

  it('peeks the oldest readings first, up to the limit, without removing them', () => {
    const outbox = open();
    for (let i = 0; i < 5; i += 1) outbox.append(BOOT_A, reading({ ts: 1000 + i, value: i }));
    const first = outbox.peek(3);
    expect(first.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    expect(first[0]).toEqual({ seq: 1, boot: BOOT_A, ...reading({ ts: 1000, value: 0 }) });
    expect(outbox.peek(3)).toEqual(first);
    expect(outbox.peek(100).map((entry) => entry.value)).toEqual([0, 1, 2, 3, 4]);
    expect(outbox.depth).toBe(5);
  });

  it('peeks only the readings of the oldest boot, then the next boot once those are acknowledged', () => {
    const outbox = open();
    const a = [outbox.append(BOOT_A, reading()), outbox.append(BOOT_A, reading())];
    const b = [outbox.append(BOOT_B, reading()), outbox.append(BOOT_B, reading())];
    const batch = outbox.peek(10);
    expect(batch.map((entry) => [entry.boot, entry.seq])).toEqual(a.map((seq) => [BOOT_A, seq]));
    outbox.acknowledge(a[1] ?? 0);
    expect(outbox.peek(10).map((entry) => [entry.boot, entry.seq])).toEqual(b.map((seq) => [BOOT_B, seq]));
  });

  it('ends a batch where the boot changes, so acknowledging it never covers a row outside it', () => {
    const outbox = open();
    outbox.append(BOOT_A, reading());
    outbox.append(BOOT_B, reading());
    outbox.append(BOOT_A, reading());
    expect(outbox.peek(10).map((entry) => entry.seq)).toEqual([1]);
  });

  it('throws AGENT_OUTBOX_OPEN_FAILED for a file that is not a database', () => {
    writeFileSync(join(dir, 'outbox.sqlite'), 'this is not a database, it is a shopping list\n'.repeat(100));
    expect(() => open()).toThrow(AgentError);
    expect(() => open()).toThrow(/cannot open the outbox/);
  });

  it('acknowledge(seq) removes every reading up to and including seq', () => {
    const outbox = open();
    for (let i = 0; i < 5; i += 1) outbox.append(BOOT_A, reading());
    outbox.acknowledge(3);
    expect(outbox.depth).toBe(2);
    expect(outbox.peek(10).map((entry) => entry.seq)).toEqual([4, 5]);
    outbox.acknowledge(3); // again: nothing left to remove below it
    expect(outbox.depth).toBe(2);
    outbox.acknowledge(5);
    expect(outbox.depth).toBe(0);
    expect(outbox.peek(10)).toEqual([]);
  });

  it('keeps its readings and its seq across a close and reopen', () => {
    const first = open();
    first.append(BOOT_A, reading({ value: 1 }));
    first.append(BOOT_A, reading({ value: 2 }));
    close(first);
    const second = open();
    expect(second.depth).toBe(2);
    expect(second.peek(10).map((entry) => entry.value)).toEqual([1, 2]);
    expect(second.append(BOOT_B, reading())).toBe(3);
  });

  it('never reuses a seq, even after every reading was acknowledged and the outbox reopened', () => {
    const first = open();
    for (let i = 0; i < 3; i += 1) first.append(BOOT_A, reading());
    first.acknowledge(3);
    expect(first.depth).toBe(0);
    expect(first.append(BOOT_A, reading())).toBe(4);
    first.acknowledge(4);
    close(first);
    const second = open();
    expect(second.depth).toBe(0);
    expect(second.append(BOOT_B, reading())).toBe(5);
  });

  it('round-trips a bad reading with a null value, and the clock flag', () => {
    const outbox = open();
    const bad = reading({ value: null, quality: 'bad', clock: 'unsynced', sensor: 'tc-2', unit: 'degC' });
    const seq = outbox.append(BOOT_A, bad);
    expect(outbox.peek(1)).toEqual([{ seq, boot: BOOT_A, ...bad }]);
    const [entry] = outbox.peek(1);
    expect(entry?.value).toBeNull();
  });

  describe('sent, confirmed, sent again', () => {
    const seqsOf = (entries: ReadonlyArray<{ seq: number }>) => entries.map((entry) => entry.seq);
    const fill = (outbox: DurableOutbox, boot: string, n: number) =>
      outbox.appendMany(
        boot,
        Array.from({ length: n }, () => reading()),
      );
    const timing = { timeoutMs: 1000, maxTimeoutMs: 4000 };
    const openTimed = (folder = dir) => {
      const outbox = new DurableOutbox(folder, undefined, timing);
      opened.push(outbox);
      return outbox;
    };

    it('keeps a sent reading until the backend confirms it, and no longer offers it to send', () => {
      const outbox = openTimed();
      fill(outbox, BOOT_A, 6);
      outbox.markSent(outbox.peek(4), 1000);
      expect(outbox.depth).toBe(6);
      expect(seqsOf(outbox.peek(10))).toEqual([5, 6]);
      expect(seqsOf(outbox.peekRange(0, 100, 10))).toEqual([5, 6]);
      expect(outbox.sent.unconfirmed()).toEqual({ count: 4, oldestTs: 1764340000000 });
      expect(outbox.hasWaiting).toBe(true);
      // The confirmation names runs of one boot: only those go, sent or not.
      expect(outbox.confirm(BOOT_B, [[1, 6]])).toEqual({ removed: 0, latestSentAt: undefined });
      expect(
        outbox.confirm(BOOT_A, [
          [1, 2],
          [5, 5],
        ]),
      ).toEqual({ removed: 3, latestSentAt: 1000 });
      expect(outbox.depth).toBe(3);
      expect(outbox.sent.unconfirmed().count).toBe(2);
      expect(seqsOf(outbox.peek(10))).toEqual([6]);
    });

    it('marks only the rows of the batch: a row between two runs of it is left as it is', () => {
      const outbox = openTimed();
      fill(outbox, BOOT_A, 5);
      outbox.markSent([{ seq: 1 }, { seq: 2 }, { seq: 4 }, { seq: 5 }], 1000);
      expect(seqsOf(outbox.peek(10))).toEqual([3]);
      outbox.acknowledgeRuns([{ seq: 3 }]);
      expect(outbox.depth).toBe(4);
      expect(outbox.hasWaiting).toBe(false);
    });

    it('finds holes by order: what the broker took before a confirmed reading, once its grace has passed', () => {
      const outbox = openTimed();
      fill(outbox, BOOT_A, 10);
      outbox.markSent(outbox.peek(5), 1000); // 1-5 taken by the broker at 1000
      outbox.markSent(outbox.peek(5), 5000); // 6-10 at 5000
      const { latestSentAt } = outbox.confirm(BOOT_A, [
        [3, 3],
        [7, 8],
      ]);
      expect(latestSentAt).toBe(5000);
      // Taken before 5000 and not confirmed: 1, 2, 4, 5; not 6 (taken at 5000 like the confirmed ones).
      expect(outbox.sent.resendHoles(BOOT_A, 5000, 3000, 3999)).toBe(0); // still within their grace
      expect(outbox.sent.resendHoles(BOOT_A, 5000, 3000, 4000)).toBe(4);
      expect(seqsOf(outbox.peek(10))).toEqual([1, 2, 4, 5]);
      expect(outbox.sent.resendHoles(BOOT_B, 9999, 3000, 99_999)).toBe(0);
      // A reading sent a second time waits twice as long (up to maxTimeoutMs, 4 s here) before it
      // counts as a hole again; 6, 9 and 10, sent once at 5000, are holes now too.
      outbox.markSent(outbox.peek(4), 10_000);
      expect(outbox.sent.resendHoles(BOOT_A, 20_000, 3000, 13_999)).toBe(3);
      expect(outbox.sent.resendHoles(BOOT_A, 20_000, 3000, 14_000)).toBe(4);
    });

    it('sends again on timeout, each reading after a wait that doubles with its sends, in chunks', () => {
      const outbox = openTimed();
      fill(outbox, BOOT_A, 4);
      outbox.markSent(outbox.peek(4), 0);
      expect(outbox.sent.resendDue(999, 100)).toBe(0);
      expect(outbox.sent.resendDue(1000, 3)).toBe(3); // a chunk
      expect(outbox.sent.resendDue(1000, 100)).toBe(1);
      outbox.markSent(outbox.peek(4), 10_000); // second send: 2 s
      expect(outbox.sent.resendDue(11_999, 100)).toBe(0);
      expect(outbox.sent.resendDue(12_000, 100)).toBe(4);
      for (const at of [20_000, 30_000, 40_000]) {
        outbox.markSent(outbox.peek(4), at);
        outbox.sent.resendDue(at + 60_000, 100);
      }
      outbox.markSent(outbox.peek(4), 100_000); // sixth send: capped at 4 s
      expect(outbox.sent.resendDue(103_999, 100)).toBe(0);
      expect(outbox.sent.resendDue(104_000, 100)).toBe(4);
    });

    it('brings waits stamped in the future back to now when the clock steps back, and can make everything waiting', () => {
      const outbox = openTimed();
      fill(outbox, BOOT_A, 3);
      outbox.markSent(outbox.peek(3), 1_000_000);
      expect(outbox.sent.clockSteppedBack(5000)).toBe(3);
      expect(outbox.sent.resendDue(6000, 100)).toBe(3);
      outbox.markSent(outbox.peek(3), 7000);
      expect(outbox.sent.resendAll()).toBe(3);
      expect(seqsOf(outbox.peek(10))).toEqual([1, 2, 3]);
    });

    it('keeps the sent state across a restart, and upgrades an outbox written before it existed', () => {
      const first = openTimed();
      fill(first, BOOT_A, 3);
      first.markSent(first.peek(2), 1000);
      close(first);
      const second = openTimed();
      expect(second.sent.unconfirmed().count).toBe(2);
      expect(seqsOf(second.peek(10))).toEqual([3]);
      close(second);
      // An outbox of an older agent: no sent state; every row is waiting.
      const old = mkdtempSync(join(tmpdir(), 'outbox-old-'));
      try {
        const db = new Database(join(old, 'outbox.sqlite'));
        db.exec(`CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, boot TEXT NOT NULL, ts INTEGER NOT NULL, sensor TEXT NOT NULL,
          value REAL, unit TEXT NOT NULL, quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL)`);
        db.prepare(
          "INSERT INTO outbox (boot, ts, sensor, value, unit, quality, clock, replay) VALUES ('b', 1, 'tc1', 1, 'C', 'good', 'synced', 0)",
        ).run();
        db.close();
        const upgraded = openTimed(old);
        expect(seqsOf(upgraded.peek(10))).toEqual([1]);
        expect(upgraded.append(BOOT_A, reading())).toBe(2);
        close(upgraded);
      } finally {
        rmSync(old, { recursive: true, force: true });
      }
    });

    it('answers its loops through indexes over the sent rows only', () => {
      const outbox = openTimed();
      const db = (outbox as unknown as { db: Database.Database }).db;
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((row) => row.detail).join('; ');
      expect(plan('SELECT seq FROM outbox WHERE sent_at IS NOT NULL AND retry_at <= 5 ORDER BY retry_at LIMIT 10')).toMatch(/outbox_retry/);
      expect(plan("SELECT seq FROM outbox WHERE sent_at IS NOT NULL AND boot = 'b' AND sent_at < 5")).toMatch(/outbox_sent_boot/);
      expect(plan('SELECT * FROM outbox WHERE seq >= 1 AND seq < 9 AND sent_at IS NULL ORDER BY seq LIMIT 5')).toMatch(
        /outbox_waiting|PRIMARY KEY/,
      );
    });
  });

  it('creates a missing data folder', () => {
    const nested = join(dir, 'deep', 'er');
    const outbox = open(nested);
    expect(outbox.append(BOOT_A, reading())).toBe(1);
  });

  it('throws AGENT_OUTBOX_OPEN_FAILED, naming the folder, where no folder can be made', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const where = join(file, 'outbox');
    let caught: unknown;
    try {
      open(where);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AgentError);
    expect(caught).toMatchObject({ name: 'AgentError', code: 'AGENT_OUTBOX_OPEN_FAILED' });
    expect((caught as AgentError).message).toContain(where);
    expect((caught as AgentError).cause).toMatchObject({ code: 'ENOTDIR' });
  });
});
