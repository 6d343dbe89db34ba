import { afterEach, describe, expect, it } from 'vitest';
import { DEVICE, EngineHarness, reading, rules } from '../../../test/helpers/alert-engine-fixtures.js';

// Stale alerts wait on the backend's clock and on `lastArrival`, which reaches the disk only at
// checkpoints: a restart must neither count the backend's own downtime as silence nor lose a
// firing alert.

const AFTER = 60_000;
const quiet = rules({ id: 'quiet', kind: 'stale', after: AFTER });
const KEY = `quiet/${DEVICE}/tc1`;

let h: EngineHarness;
afterEach(() => h.close());

/** One reading a second from `from` to `to` (inclusive), each received at its own time. */
function stream(from: number, to: number): void {
  for (let ts = from; ts <= to; ts += 1000) h.feed(reading(ts, 20));
}

describe('AlertEngine: stale across restarts', () => {
  it('flushes arrival times that wait for the checkpoint when it stops', () => {
    h = new EngineHarness(quiet);
    stream(0, 50_000);
    // Written at creation and at the 30 s checkpoint; the later arrivals are in memory only.
    expect(h.storedInstance(KEY)?.memory.lastArrival).toBe(30_000);
    h.engine.stop();
    expect(h.storedInstance(KEY)?.memory.lastArrival).toBe(50_000);
  });

  it('does not fire after a quick restart: the arrival time is flushed on stop', () => {
    h = new EngineHarness(quiet);
    stream(0, 50_000);
    h.clock = 50_500;
    h.restart();
    h.engine.tick(50_000 + AFTER - 1);
    expect(h.path()).toEqual([]);
  });

  it('does not count the downtime as silence, even when the arrival time was lost in a crash', () => {
    h = new EngineHarness(quiet);
    stream(0, 50_000);
    h.clock = 100_000;
    h.restart(undefined, { crash: true });
    // Stored: 30 000. Without the restart counting from now, 130 000 - 30 000 >= 60 000 would fire.
    h.engine.tick(100_000 + AFTER / 2);
    expect(h.path()).toEqual([]);
    expect(h.engine.active()).toEqual([]);
    // A sensor that stays silent after the restart still fires, `after` from the restart.
    h.engine.tick(100_000 + AFTER);
    expect(h.path()).toEqual(['quiet/tc1:inactive→firing']);
  });

  it('keeps a firing stale alert firing across a restart, and resolves it on the next reading', () => {
    h = new EngineHarness(quiet);
    h.feed(reading(0, 20));
    h.engine.tick(AFTER);
    expect(h.path()).toEqual(['quiet/tc1:inactive→firing']);
    for (const crash of [false, true]) {
      h.clock = 200_000;
      h.restart(undefined, { crash });
      h.engine.tick(200_000 + AFTER / 2);
      expect(h.engine.active()).toMatchObject([{ rule: 'quiet', phase: 'firing', id: 'ev-1' }]);
      expect(h.storedInstance(KEY)?.memory.lastArrival).toBe(0);
    }
    expect(h.path()).toEqual(['quiet/tc1:inactive→firing']);
    h.feed(reading(300_000, 20));
    expect(h.path()).toEqual(['quiet/tc1:inactive→firing', 'quiet/tc1:firing→resolved']);
  });
});

describe('AlertEngine with unreadable stored rows', () => {
  it('starts with the readable instances; an unreadable one starts afresh', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900, match: { device: DEVICE, sensor: 'tc*' } }));
    h.feed([reading(0, 950), reading(0, 950, { sensor: 'tc2' })]);
    h.db.exec(`UPDATE alert_instances SET state = 'garbage' WHERE sensor = 'tc2'`);
    h.restart(undefined, { crash: true });
    expect(h.engine.active().map((alert) => alert.sensor)).toEqual(['tc1']);
    h.feed([reading(1000, 950), reading(1000, 950, { sensor: 'tc2' })]);
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing', 'overheat/tc2:inactive→firing', 'overheat/tc2:inactive→firing']);
  });

  it('no longer marks transitions silenced once a silence is ended early', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900 }));
    h.store.addSilence({
      id: 's1',
      matchers: { device: '*', sensor: '*', rule: '*' },
      startsAt: 0,
      endsAt: 100_000,
      createdBy: 'ops',
      comment: '',
      createdAt: 0,
    });
    expect(h.store.removeSilence('s1', 1000)).toBe(true);
    h.feed(reading(2000, 950));
    expect(h.events().map((r) => r.silenced)).toEqual([false]);
    expect(h.outbox('webhook:ops')).toHaveLength(1);
  });
});

describe('AlertEngine: threshold timing across restarts', () => {
  it('does not count the downtime toward `for`: the wait goes on from where it stopped', () => {
    h = new EngineHarness(rules({ id: 'hot', kind: 'threshold', above: 900, for: 30_000 }));
    h.feed(reading(0, 950), 0);
    h.engine.tick(20_000);
    expect(h.path()).toEqual(['hot/tc1:inactive→pending']);
    // Down for 100 s: 20 s of the 30 s had passed; 10 s more are needed after the restart.
    h.clock = 120_000;
    h.restart();
    h.engine.tick(125_000);
    expect(h.path()).toEqual(['hot/tc1:inactive→pending']);
    h.engine.tick(130_000);
    expect(h.path()).toEqual(['hot/tc1:inactive→pending', 'hot/tc1:pending→firing']);
  });
});
