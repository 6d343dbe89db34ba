import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentError } from './errors.js';
import { DurableOutbox, type NewReading } from './outbox.js';

const BOOT_A = '01JBOOTA';
const BOOT_B = '01JBOOTB';

function reading(overrides: Partial<NewReading> = {}): NewReading {
  return { ts: 1764340000000, sensor: 'tc1', value: 812.5, unit: 'C', quality: 'good', clock: 'synced', replay: false, ...overrides };
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

  it('round-trips a bad reading with a null value, and the replay and clock flags', () => {
    const outbox = open();
    const bad = reading({ value: null, quality: 'bad', clock: 'unsynced', replay: true, sensor: 'tc-2', unit: 'degC' });
    const seq = outbox.append(BOOT_A, bad);
    expect(outbox.peek(1)).toEqual([{ seq, boot: BOOT_A, ...bad }]);
    const [entry] = outbox.peek(1);
    expect(entry?.value).toBeNull();
    expect(entry?.replay).toBe(true);
  });

  describe('sent, confirmed, sent again', () => {
    const seqsOf = (entries: ReadonlyArray<{ seq: number }>) => entries.map((entry) => entry.seq);
    const fill = (outbox: DurableOutbox, boot: string, n: number) => outbox.appendMany(boot, Array.from({ length: n }, () => reading()));

    it('keeps a sent reading until the backend confirms it, and no longer offers it to send', () => {
      const outbox = open();
      fill(outbox, BOOT_A, 6);
      outbox.markSent(outbox.peek(4), 1000);
      expect(outbox.depth).toBe(6);
      expect(seqsOf(outbox.peek(10))).toEqual([5, 6]);
      expect(seqsOf(outbox.peekRange(0, 100, 10))).toEqual([5, 6]);
      expect(outbox.unconfirmed()).toEqual({ count: 4, oldestSentAt: 1000, oldestTs: 1764340000000 });
      expect(outbox.hasWaiting).toBe(true);
      // The confirmation names runs of one boot: only those go, sent or not.
      expect(outbox.confirm(BOOT_B, [[1, 6]])).toBe(0);
      expect(outbox.confirm(BOOT_A, [[1, 2], [5, 5]])).toBe(3);
      expect(outbox.depth).toBe(3);
      expect(outbox.unconfirmed().count).toBe(2);
      expect(seqsOf(outbox.peek(10))).toEqual([6]);
    });

    it('marks only the rows of the batch: a row between two runs of it is left as it is', () => {
      const outbox = open();
      fill(outbox, BOOT_A, 5);
      outbox.markSent([{ seq: 1 }, { seq: 2 }, { seq: 4 }, { seq: 5 }], 1000);
      expect(seqsOf(outbox.peek(10))).toEqual([3]);
      outbox.acknowledgeRuns([{ seq: 3 }]);
      expect(outbox.depth).toBe(4);
      expect(outbox.hasWaiting).toBe(false);
    });

    it('makes holes below a confirmed seq waiting again, once their grace has passed, and the rest on a timeout', () => {
      const outbox = open();
      fill(outbox, BOOT_A, 10);
      outbox.markSent(outbox.peek(5), 1000); // 1-5 sent at 1000
      outbox.markSent(outbox.peek(5), 5000); // 6-10 sent at 5000
      outbox.confirm(BOOT_A, [[3, 3], [7, 8]]);
      // Below 8: 1, 2, 4, 5 (sent at 1000) and 6 (sent at 5000, still within its grace at 4000).
      expect(outbox.resendHoles(BOOT_A, 8, 4000)).toBe(4);
      expect(seqsOf(outbox.peek(10))).toEqual([1, 2, 4, 5]);
      expect(outbox.resendHoles(BOOT_B, 8, 9999)).toBe(0);
      expect(outbox.resendSent(4999)).toBe(0);
      expect(outbox.resendSent(5000)).toBe(3); // 6, 9, 10
      expect(outbox.unconfirmed().count).toBe(0);
      expect(seqsOf(outbox.peek(10))).toEqual([1, 2, 4, 5, 6, 9, 10]);
    });

    it('keeps the sent state across a restart, and upgrades an outbox written before it existed', () => {
      const first = open();
      fill(first, BOOT_A, 3);
      first.markSent(first.peek(2), 1000);
      close(first);
      const second = open();
      expect(second.unconfirmed().count).toBe(2);
      expect(seqsOf(second.peek(10))).toEqual([3]);
      close(second);
      // An outbox of an older agent: no sent_at column; every row is waiting.
      const old = mkdtempSync(join(tmpdir(), 'outbox-old-'));
      try {
        const db = new Database(join(old, 'outbox.sqlite'));
        db.exec(`CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, boot TEXT NOT NULL, ts INTEGER NOT NULL, sensor TEXT NOT NULL,
          value REAL, unit TEXT NOT NULL, quality TEXT NOT NULL, clock TEXT NOT NULL, replay INTEGER NOT NULL)`);
        db.prepare("INSERT INTO outbox (boot, ts, sensor, value, unit, quality, clock, replay) VALUES ('b', 1, 'tc1', 1, 'C', 'good', 'synced', 0)").run();
        db.close();
        const upgraded = open(old);
        expect(seqsOf(upgraded.peek(10))).toEqual([1]);
        expect(upgraded.append(BOOT_A, reading())).toBe(2);
        close(upgraded);
      } finally {
        rmSync(old, { recursive: true, force: true });
      }
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
