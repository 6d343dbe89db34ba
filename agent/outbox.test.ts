import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
