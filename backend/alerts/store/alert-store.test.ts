import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertTransition } from '../../../contract/index.js';
import { openAlertDb } from './alert-db.js';
import { newInstance } from '../alert-state.js';
import { AlertStore, SILENCE_KEEP_MS } from './alert-store.js';
import type { Silence } from '../types.js';

let dir: string;
let store: AlertStore;
/** What the store logged (error and above). */
let logged: Array<{ level: number; msg: string; table: string; key: string }>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'alert-store-'));
  logged = [];
  store = new AlertStore(
    openAlertDb(dir),
    pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) }),
  );
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function transition(id: string, extra: Partial<AlertTransition> = {}): AlertTransition {
  return {
    v: 1,
    id,
    device: 'furnace-1',
    rule: 'overheat',
    sensor: 'tc1',
    from: 'inactive',
    to: 'firing',
    ts: 1000,
    severity: 'critical',
    message: 'hot',
    ...extra,
  };
}

const event = (id: string, extra: Partial<AlertTransition> = {}) => ({ event: transition(id, extra), silenced: false });

function silence(id: string, startsAt: number, endsAt: number, createdAt = startsAt): Silence {
  return { id, matchers: { device: 'furnace-*', sensor: '*', rule: '*' }, startsAt, endsAt, createdBy: 'ops', comment: '', createdAt };
}

describe('AlertStore.commit', () => {
  it('writes instances, events and outbox rows together, filling each transition item with its seq', () => {
    const instance = { ...newInstance('overheat', 'furnace-1', 'tc1', 0), phase: 'firing' as const };
    const records = store.commit({
      upsert: [{ instance, episodeId: 'e1' }, { instance: newInstance('gone', 'furnace-1', undefined, 0) }],
      remove: [],
      events: [event('e1'), { event: transition('e2', { sensor: 'tc2' }), silenced: true }],
      outbox: [
        { channel: 'mqtt', item: { kind: 'transition', seq: 0, event: transition('e2', { sensor: 'tc2' }), silenced: true } },
        { channel: 'webhook:a', item: { kind: 'transition', seq: 0, event: transition('e1'), silenced: false } },
        { channel: 'mqtt', item: { kind: 'forget', device: 'furnace-9', rule: 'old' } },
      ],
      now: 5000,
    });
    expect(records.map((r) => [r.seq, r.event.id, r.silenced])).toEqual([
      [1, 'e1', false],
      [2, 'e2', true],
    ]);
    expect(store.loadInstances()).toEqual([{ instance, episodeId: 'e1' }, { instance: newInstance('gone', 'furnace-1', undefined, 0) }]);
    const db = openAlertDb(dir);
    const rows = db.prepare('SELECT channel, item, state, enqueued_at, next_attempt_at FROM alert_outbox ORDER BY id').all() as Array<{
      item: string;
    }>;
    db.close();
    expect(rows.map((row) => ({ ...row, item: JSON.parse(row.item) as unknown }))).toMatchObject([
      { channel: 'mqtt', item: { seq: 2, event: { id: 'e2' } }, state: 'pending', enqueued_at: 5000, next_attempt_at: 5000 },
      { channel: 'webhook:a', item: { seq: 1, event: { id: 'e1' } } },
      { channel: 'mqtt', item: { kind: 'forget', device: 'furnace-9' } },
    ]);
  });

  it('commits nothing when any part fails, and removes instances by key', () => {
    const instance = newInstance('overheat', 'furnace-1', 'tc1', 0);
    store.commit({ upsert: [{ instance }], remove: [], events: [event('e1')], outbox: [], now: 0 });
    // A duplicate event id breaks the transaction after the upsert and the delete ran.
    const change = {
      upsert: [{ instance: { ...instance, phase: 'pending' as const } }],
      remove: ['overheat/furnace-1/tc1'],
      events: [event('e1')],
      outbox: [],
      now: 1,
    };
    expect(() => store.commit(change)).toThrow(/UNIQUE/);
    expect(store.loadInstances()).toEqual([{ instance }]);
    expect(store.lastSeq()).toBe(1);
    store.commit({ upsert: [], remove: ['overheat/furnace-1/tc1'], events: [], outbox: [], now: 2 });
    expect(store.loadInstances()).toEqual([]);
  });

  it('acknowledges the instance of an episode, and keeps the ack and its comment through loads', () => {
    store.commit({
      upsert: [{ instance: newInstance('overheat', 'furnace-1', 'tc1', 0), episodeId: 'e1' }],
      remove: [],
      events: [],
      outbox: [],
      now: 0,
    });
    expect(store.acknowledge('e9', { by: 'ops', at: 10 })).toBe(false);
    expect(store.acknowledge('e1', { by: 'ops', at: 10, comment: 'heater contactor checked' })).toBe(true);
    expect(store.loadInstances()[0]).toMatchObject({ episodeId: 'e1', ack: { by: 'ops', at: 10, comment: 'heater contactor checked' } });
  });

  it('keeps the notice a silence held back in the state JSON, and hands it back beside the instance', () => {
    const instance = { ...newInstance('overheat', 'furnace-1', 'tc1', 0), phase: 'firing' as const };
    store.commit({ upsert: [{ instance, owedNotice: true }], remove: [], events: [], outbox: [], now: 0 });
    expect(store.loadInstances()).toEqual([{ instance, owedNotice: true }]);
    store.commit({ upsert: [{ instance }], remove: [], events: [], outbox: [], now: 1 });
    expect(store.loadInstances()).toEqual([{ instance }]);
  });
});

describe('AlertStore log', () => {
  beforeEach(() => {
    store.commit({
      upsert: [],
      remove: [],
      events: [
        event('a', { ts: 1000, to: 'pending' }),
        event('b', { ts: 2000, from: 'pending', to: 'firing' }),
        event('c', { ts: 3000, device: 'furnace-2', to: 'firing' }),
        event('d', { ts: 4000, from: 'firing', to: 'resolved' }),
      ],
      outbox: [],
      now: 0,
    });
    store.commit({ upsert: [], remove: [], events: [event('e', { ts: 5000, to: 'firing' })], outbox: [], now: 0 });
  });

  it('answers events after a seq, oldest first, and the last seq', () => {
    expect(store.lastSeq()).toBe(5);
    expect(store.eventsAfter(2, 2).map((r) => r.event.id)).toEqual(['c', 'd']);
    expect(store.eventsAfter(5, 10)).toEqual([]);
  });

  it('filters history by state entered, device and time, newest first, and pages below a cursor', () => {
    const ids = (query: Parameters<AlertStore['history']>[0]) => store.history(query).map((r) => r.event.id);
    expect(ids({ limit: 10 })).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(ids({ limit: 10, state: 'firing' })).toEqual(['e', 'c', 'b']);
    expect(ids({ limit: 10, device: 'furnace-2' })).toEqual(['c']);
    expect(ids({ limit: 10, from: 2000, to: 4000 })).toEqual(['c', 'b']);
    const first = store.history({ limit: 2, state: 'firing' });
    expect(first.map((r) => r.event.id)).toEqual(['e', 'c']);
    expect(ids({ limit: 2, state: 'firing', before: first[1]?.seq })).toEqual(['b']);
    expect(ids({ limit: 10, device: 'furnace-1', state: 'resolved', from: 0, to: 9000, before: 5 })).toEqual(['d']);
  });

  it('finds the newest event of an instance and whether a (device, rule) ever notified', () => {
    expect(store.lastEvent('overheat', 'furnace-1', 'tc1')?.event.id).toBe('e');
    expect(store.lastEvent('overheat', 'furnace-1', undefined)).toBeUndefined();
    expect(store.everNotified('furnace-2', 'overheat')).toBe(true);
    expect(store.everNotified('furnace-3', 'overheat')).toBe(false);
  });
});

describe('AlertStore silences', () => {
  it('lists live or all silences, finds the active ones, and removes by id', () => {
    store.addSilence(silence('past', 0, 1000));
    store.addSilence(silence('now', 1000, 5000));
    store.addSilence(silence('later', 4000, 9000));
    expect(store.listSilences(2000, false).map((s) => s.id)).toEqual(['now', 'later']);
    expect(store.listSilences(2000, true).map((s) => s.id)).toEqual(['past', 'now', 'later']);
    expect(store.activeSilences(2000).map((s) => s.id)).toEqual(['now']);
    expect(store.activeSilences(5000).map((s) => s.id)).toEqual(['later']);
    expect(store.listSilences(2000, false)[0]).toEqual(silence('now', 1000, 5000));
  });

  it('ends a silence early instead of deleting it; an unknown or ended one answers false', () => {
    store.addSilence(silence('now', 1000, 5000));
    store.addSilence(silence('later', 4000, 9000));
    store.addSilence(silence('past', 0, 1000));
    expect(store.removeSilence('now', 2000)).toBe(true);
    expect(store.activeSilences(2000)).toEqual([]);
    expect(store.listSilences(2000, false).map((s) => s.id)).toEqual(['later']);
    expect(store.listSilences(2000, true)).toContainEqual({ ...silence('now', 1000, 5000), endsAt: 2000 });
    // One not begun yet ends before it begins: it never silences.
    expect(store.removeSilence('later', 3000)).toBe(true);
    expect(store.listSilences(3000, true)).toContainEqual({ ...silence('later', 4000, 9000), startsAt: 3000, endsAt: 3000 });
    expect(store.activeSilences(4000)).toEqual([]);
    expect(store.removeSilence('now', 3000)).toBe(false);
    expect(store.removeSilence('past', 3000)).toBe(false);
    expect(store.removeSilence('none', 3000)).toBe(false);
  });

  it('tells its listeners when a silence is ended early, even when one of them throws', () => {
    const heard: number[] = [];
    store.onSilenceEnded(() => {
      throw new Error('broken listener');
    });
    store.onSilenceEnded((now) => heard.push(now));
    store.addSilence(silence('now', 1000, 5000));
    expect(store.removeSilence('now', 2000)).toBe(true);
    expect(store.removeSilence('now', 3000)).toBe(false);
    expect(heard).toEqual([2000]);
    expect(logged.map((line) => line.msg)).toEqual(['silence-ended listener failed']);
  });

  it('prunes silences that ended more than a week before a new one is added', () => {
    store.addSilence(silence('old', 0, 1000));
    store.addSilence(silence('recent', 0, 2000));
    store.addSilence(silence('new', 1000 + SILENCE_KEEP_MS + 1, 1000 + SILENCE_KEEP_MS + 5000));
    expect(store.listSilences(0, true).map((s) => s.id)).toEqual(['recent', 'new']);
  });
});

describe('AlertStore with corrupt rows', () => {
  /** A second connection, as a hand edit or an older bug would write. */
  const corrupt = (sql: string) => {
    const db = openAlertDb(dir);
    db.exec(sql);
    db.close();
  };

  it('skips instances whose state does not parse or lacks phase or memory, and logs each', () => {
    const good = newInstance('overheat', 'furnace-1', 'tc1', 0);
    store.commit({
      upsert: ['tc1', 'tc2', 'tc3', 'tc4'].map((sensor) => ({ instance: newInstance('overheat', 'furnace-1', sensor, 0) })),
      remove: [],
      events: [],
      outbox: [],
      now: 0,
    });
    corrupt(`UPDATE alert_instances SET state = '{"rule":' WHERE sensor = 'tc2';
             UPDATE alert_instances SET state = json_remove(state, '$.memory') WHERE sensor = 'tc3';
             UPDATE alert_instances SET state = json_set(state, '$.phase', 'melting') WHERE sensor = 'tc4'`);
    expect(store.loadInstances()).toEqual([{ instance: good }]);
    expect(logged.map((entry) => [entry.table, entry.key])).toEqual([
      ['alert_instances', 'overheat/furnace-1/tc2'],
      ['alert_instances', 'overheat/furnace-1/tc3'],
      ['alert_instances', 'overheat/furnace-1/tc4'],
    ]);
    expect(logged[0]?.msg).toMatch(/^unreadable alert_instances row overheat\/furnace-1\/tc2 skipped: not JSON/);
    // Logged once at error; a second read of the same rows is counted but quiet.
    store.loadInstances();
    expect(logged).toHaveLength(3);
    expect(store.corruptRows).toBe(6);
  });

  it('skips silences whose matchers do not parse, when listing and when matching', () => {
    store.addSilence(silence('bad', 0, 5000));
    store.addSilence(silence('good', 0, 5000));
    corrupt(`UPDATE silences SET matchers = 'not json' WHERE id = 'bad'`);
    expect(store.listSilences(1000, true).map((s) => s.id)).toEqual(['good']);
    expect(store.listSilences(1000, false).map((s) => s.id)).toEqual(['good']);
    expect(store.activeSilences(1000).map((s) => s.id)).toEqual(['good']);
    expect(logged).toMatchObject([{ table: 'silences', key: 'bad' }]);
  });

  it('skips events whose payload does not parse, and still fills every page', () => {
    store.commit({
      upsert: [],
      remove: [],
      events: ['a', 'b', 'c', 'd', 'e'].map((id, i) => event(id, { ts: 1000 * (i + 1) })),
      outbox: [],
      now: 0,
    });
    corrupt(`UPDATE alert_events SET payload = '{' WHERE id = 'b'; UPDATE alert_events SET payload = '[]' WHERE id = 'c'`);
    const ids = (records: ReturnType<AlertStore['history']>) => records.map((r) => r.event.id);
    expect(ids(store.eventsAfter(0, 2))).toEqual(['a', 'd']);
    expect(ids(store.eventsAfter(1, 10))).toEqual(['d', 'e']);
    expect(ids(store.history({ limit: 2 }))).toEqual(['e', 'd']);
    expect(ids(store.history({ limit: 2, before: 4 }))).toEqual(['a']);
    expect(ids(store.history({ limit: 3, from: 2000 }))).toEqual(['e', 'd']);
    expect(store.lastEvent('overheat', 'furnace-1', 'tc1')?.event.id).toBe('e');
    expect(logged.map((entry) => [entry.table, entry.key])).toEqual([
      ['alert_events', '2'],
      ['alert_events', '3'],
    ]);
  });
});
