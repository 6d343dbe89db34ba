import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAlertDb } from '../store/alert-db.js';
import type { ChannelItem } from '../types.js';
import { ChannelOutbox } from './outbox.js';

const forget = (rule: string): ChannelItem => ({ kind: 'forget', device: 'oven-1', rule });

/** The INSERT the engine runs in its transaction. */
function enqueue(db: Database.Database, channel: string, item: ChannelItem | string, at: number): void {
  const text = typeof item === 'string' ? item : JSON.stringify(item);
  const insert = db.prepare(`INSERT INTO alert_outbox (channel, item, state, enqueued_at, next_attempt_at) VALUES (?, ?, 'pending', ?, ?)`);
  insert.run(channel, text, at, at);
}

describe('ChannelOutbox', () => {
  let dir: string;
  let db: Database.Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alert-outbox-'));
    db = openAlertDb(dir);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands out only the oldest pending row of its own channel, once it is due', () => {
    const mqtt = new ChannelOutbox(db, 'mqtt');
    enqueue(db, 'webhook:a', forget('w'), 1000);
    enqueue(db, 'mqtt', forget('r1'), 1000);
    enqueue(db, 'mqtt', forget('r2'), 1000);
    const head = mqtt.next(1000);
    expect(head?.item).toEqual(forget('r1'));
    expect(head).toMatchObject({ attempts: 0, enqueuedAt: 1000, nextAttemptAt: 1000, lastError: null });
    expect(mqtt.pendingCount()).toBe(2);

    mqtt.retryLater(head!.id, 'boom', 1500);
    // The head waits: strict order, so the second row is not handed out meanwhile.
    expect(mqtt.next(1499)).toBeUndefined();
    expect(mqtt.nextDueAt()).toBe(1500);
    expect(mqtt.next(1500)).toMatchObject({ id: head!.id, attempts: 1, lastError: 'boom' });

    mqtt.delivered(head!.id);
    expect(mqtt.next(1500)?.item).toEqual(forget('r2'));
    expect(mqtt.pendingCount()).toBe(1);
    expect(new ChannelOutbox(db, 'webhook:a').pendingCount()).toBe(1);
  });

  it('keeps rows given up on, as failed, and moves past them', () => {
    const outbox = new ChannelOutbox(db, 'webhook:a');
    const first = outbox.enqueue(forget('r1'), 10);
    outbox.enqueue(forget('r2'), 20);
    outbox.failed(first, 'HTTP 500');
    expect(outbox.next(20)?.item).toEqual(forget('r2'));
    expect(outbox.pendingCount()).toBe(1);
    expect(outbox.failedRows()).toEqual([expect.objectContaining({ id: first, item: forget('r1'), attempts: 1, lastError: 'HTTP 500' })]);
    const row = db.prepare('SELECT state FROM alert_outbox WHERE id = ?').get(first) as { state: string };
    expect(row.state).toBe('failed');
  });

  it('makes a backing-off head due at once on retryNow, and reports unreadable items', () => {
    const outbox = new ChannelOutbox(db, 'mqtt');
    enqueue(db, 'mqtt', '{not json', 5);
    const head = outbox.next(5)!;
    expect(head.item).toBeUndefined();
    expect(head.raw).toBe('{not json');
    outbox.retryLater(head.id, 'x', 60_000);
    expect(outbox.next(100)).toBeUndefined();
    outbox.retryNow(100);
    expect(outbox.next(100)?.id).toBe(head.id);
    expect(outbox.nextDueAt()).toBe(100);
    expect(new ChannelOutbox(db, 'empty').nextDueAt()).toBeUndefined();
  });
});
