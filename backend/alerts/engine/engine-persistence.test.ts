import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEVICE, EngineHarness, reading, rules } from '../../../test/helpers/alert-engine-fixtures.js';
import { ALERTS_FILE } from '../store/alert-db.js';

const overheat = rules({ id: 'overheat', kind: 'threshold', above: 900, clearAbove: 880, for: 5000 });

let h: EngineHarness;
afterEach(() => h.close());

describe('AlertEngine across restarts', () => {
  it('does not fire again after a restart while firing, and still resolves once', () => {
    h = new EngineHarness(overheat);
    h.feed([reading(0, 905), reading(5000, 910)]);
    const before = h.engine.active();
    expect(before).toMatchObject([{ id: 'ev-1', phase: 'firing', message: 'tc1 is 910, above 900' }]);

    h.restart();
    // The message is not part of the state: it comes back from the log.
    expect(h.engine.active()).toEqual(before);
    h.feed([reading(6000, 930), reading(20_000, 940)]);
    expect(h.path()).toEqual(['overheat/tc1:inactive→pending', 'overheat/tc1:pending→firing']);
    h.feed(reading(21_000, 870));
    expect(h.path()).toEqual(['overheat/tc1:inactive→pending', 'overheat/tc1:pending→firing', 'overheat/tc1:firing→resolved']);
    expect(h.events().map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('keeps an ack and the episode across a restart', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900, repeatEvery: 10_000 }));
    h.feed(reading(0, 950));
    h.engine.acknowledge('ev-1', 'ops', 'on my way');
    h.restart();
    expect(h.engine.active()).toMatchObject([{ id: 'ev-1', acknowledged: { by: 'ops', comment: 'on my way' } }]);
    h.feed(reading(30_000, 950));
    expect(h.events()).toHaveLength(1);
  });

  it('keeps a keepFiringFor wait that began before the restart', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900, keepFiringFor: 10_000 }));
    h.feed(reading(0, 950));
    h.feed(reading(1000, 850));
    h.restart();
    // The wait counts from 1000, when the value fell, not from the first reading after the restart.
    h.feed(reading(9000, 850));
    h.feed(reading(11_000, 850));
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing', 'overheat/tc1:firing→resolved']);
    expect(h.events()[1]?.event.ts).toBe(11_000);
  });
});

describe('AlertEngine when the store fails', () => {
  it('throws, keeps the previous state, and evaluates the same inputs cleanly once the store works', () => {
    h = new EngineHarness(overheat);
    h.feed(reading(0, 905));
    // Another connection holds the write lock: the commit fails with SQLITE_BUSY after the busy timeout.
    const other = new Database(join(h.dir, ALERTS_FILE));
    other.exec('BEGIN IMMEDIATE');
    try {
      expect(() => h.feed(reading(5000, 910))).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      expect(h.appended).toHaveLength(1);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(h.engine.active()).toMatchObject([{ phase: 'pending', since: 0 }]);
    expect(h.path()).toEqual(['overheat/tc1:inactive→pending']);
    // The broker resends the batch: it fires exactly once.
    h.feed(reading(5000, 910));
    h.feed(reading(5000, 910));
    expect(h.path()).toEqual(['overheat/tc1:inactive→pending', 'overheat/tc1:pending→firing']);
    expect(h.outbox('webhook:ops')).toHaveLength(1);
  });

  it('does not keep an instance created in a call whose commit failed', () => {
    h = new EngineHarness(overheat);
    const failure = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    const commit = vi.spyOn(h.store, 'commit').mockImplementationOnce(() => {
      throw failure;
    });
    expect(() => h.feed(reading(0, 950))).toThrow(failure);
    expect(h.engine.active()).toEqual([]);
    h.feed(reading(0, 950));
    expect(commit).toHaveBeenCalledTimes(2);
    expect(h.path()).toEqual(['overheat/tc1:inactive→pending']);
  });

  it('throws when the database is closed', () => {
    h = new EngineHarness(overheat);
    h.store.close();
    expect(() => h.feed(reading(0, 950))).toThrow(/database connection is not open/);
  });
});

describe('AlertEngine.setRules', () => {
  const both = rules(
    { id: 'overheat', kind: 'threshold', above: 900 },
    { id: 'meltdown', kind: 'threshold', above: 1200 },
    { id: 'gone', kind: 'offline', match: { device: 'furnace-*' } },
  );

  it('drops the instances of a removed rule, resolves and forgets its alert, and keeps the other rules firing', () => {
    h = new EngineHarness(both);
    h.feed(reading(0, 1300));
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing', 'meltdown/tc1:inactive→firing']);
    h.clock = 500;
    h.engine.setRules(both.filter((rule) => rule.id !== 'overheat'));
    expect(h.path().at(-1)).toBe('overheat/tc1:firing→resolved');
    expect(h.events().at(-1)?.event).toMatchObject({ ts: 500, severity: 'critical', value: 1300, message: 'rule overheat removed' });
    // The end, with its retained state, before the forget; the webhook hears the end only.
    expect(
      h
        .outbox('mqtt')
        .slice(-2)
        .map((row) => row.item),
    ).toMatchObject([
      { kind: 'transition', event: { rule: 'overheat', to: 'resolved' }, state: { state: 'resolved', rule: 'overheat' } },
      { kind: 'forget', device: DEVICE, rule: 'overheat' },
    ]);
    expect(h.outbox('webhook:ops').map((row) => row.item.kind === 'transition' && `${row.item.event.rule}:${row.item.event.to}`)).toEqual([
      'overheat:firing',
      'meltdown:firing',
      'overheat:resolved',
    ]);
    expect(h.enqueued.at(-1)).toEqual(['mqtt', 'webhook:ops']);
    expect(h.appended.at(-1)?.map((record) => record.event.message)).toEqual(['rule overheat removed']);
    expect(h.instanceRows().map((row) => row.key)).toEqual([`gone/${DEVICE}/`, `meltdown/${DEVICE}/tc1`]);
    expect(h.engine.active().map((alert) => alert.rule)).toEqual(['meltdown']);
    h.feed(reading(1000, 1300));
    expect(h.events()).toHaveLength(3);
    expect(h.engine.rules.map((rule) => rule.id)).toEqual(['meltdown', 'gone']);
  });

  it('ends a pending alert of a changed rule as inactive, and a firing one with the old severity', async () => {
    const slow = rules(
      { id: 'overheat', kind: 'threshold', above: 900, for: 10_000 },
      { id: 'meltdown', kind: 'threshold', above: 1200, severity: 'warning' },
    );
    h = new EngineHarness(slow);
    h.feed(reading(0, 1300));
    expect(h.path()).toEqual(['overheat/tc1:inactive→pending', 'meltdown/tc1:inactive→firing']);
    h.engine.setRules(
      rules({ id: 'overheat', kind: 'stale', after: 1000 }, { id: 'meltdown', kind: 'rate', above: 10, window: 60_000, severity: 'info' }),
    );
    expect(h.path().slice(2)).toEqual(['overheat/tc1:pending→inactive', 'meltdown/tc1:firing→resolved']);
    expect(
      h
        .events()
        .slice(2)
        .map((r) => [r.event.message, r.event.severity]),
    ).toEqual([
      ['rule overheat changed', 'critical'],
      ['rule meltdown changed', 'warning'],
    ]);
    // overheat never notified (pending only): nothing to forget; meltdown's retained state is.
    expect(
      h
        .outbox('mqtt')
        .filter((row) => row.item.kind === 'forget')
        .map((row) => row.item),
    ).toEqual([{ kind: 'forget', device: DEVICE, rule: 'meltdown' }]);
    expect(h.outbox('webhook:ops').map((row) => row.item.kind === 'transition' && row.item.event.to)).toEqual(['firing', 'resolved']);
    expect(h.engine.active()).toEqual([]);
    expect(await h.metric('alertsActive', { phase: 'firing' })).toBe(0);
    expect(await h.metric('alertTransitions', { rule: 'meltdown', to: 'resolved' })).toBe(1);
  });

  it('starts a rule whose kind changed afresh, and forgets nothing for a rule that never fired', () => {
    h = new EngineHarness(both);
    h.feed(reading(0, 1000));
    const changed = rules(
      { id: 'overheat', kind: 'threshold', above: 900 },
      { id: 'meltdown', kind: 'stale', after: 1000 },
      { id: 'gone', kind: 'offline', match: { device: 'x-*' } },
    );
    h.engine.setRules(changed);
    // meltdown never fired (no retained state); gone no longer matches furnace-1.
    expect(h.outbox().filter((row) => row.item.kind === 'forget')).toEqual([]);
    expect(h.instanceRows().map((row) => row.key)).toEqual([`overheat/${DEVICE}/tc1`]);
    expect(h.engine.active()).toMatchObject([{ rule: 'overheat', phase: 'firing' }]);
  });

  it('resolves and forgets the alerts of rules removed while the backend was down, with the severity they fired with', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900, severity: 'warning' }));
    h.feed(reading(0, 1000));
    h.clock = 60_000;
    h.restart(both.filter((rule) => rule.id !== 'overheat'));
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing', 'overheat/tc1:firing→resolved']);
    expect(h.events()[1]?.event).toMatchObject({ ts: 60_000, severity: 'warning', message: 'rule overheat removed' });
    expect(
      h
        .outbox('mqtt')
        .slice(1)
        .map((row) => row.item.kind),
    ).toEqual(['transition', 'forget']);
    expect(h.outbox('webhook:ops').map((row) => row.item.kind === 'transition' && row.item.event.to)).toEqual(['firing', 'resolved']);
    expect(h.engine.active()).toEqual([]);
  });
});
