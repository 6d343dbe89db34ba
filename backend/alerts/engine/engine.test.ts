import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEVICE, EngineHarness, reading, rules, webhookChannel } from '../../../test/helpers/alert-engine-fixtures.js';

const overheat = rules({ id: 'overheat', kind: 'threshold', above: 900, clearAbove: 880, for: 5000, labels: { team: 'melt' } });

let h: EngineHarness;
afterEach(() => h.close());

describe('AlertEngine: evaluation, log and outbox', () => {
  it('fires once after `for`, resolves once, and commits every event with its outbox rows in order', async () => {
    h = new EngineHarness(overheat);
    h.feed(reading(0, 905));
    expect(h.engine.active()).toMatchObject([{ id: 'ev-1', phase: 'pending', labels: { team: 'melt' }, severity: 'critical' }]);
    h.feed([reading(1000, 910), reading(4999, 915)]);
    expect(h.path()).toEqual(['overheat/tc1:inactive→pending']);
    h.feed([reading(5000, 920), reading(6000, 925), reading(7000, 890)]);
    expect(await h.metric('alertsActive', { phase: 'firing' })).toBe(1);
    h.feed(reading(8000, 870));
    h.feed(reading(9000, 860));

    expect(h.path()).toEqual(['overheat/tc1:inactive→pending', 'overheat/tc1:pending→firing', 'overheat/tc1:firing→resolved']);
    const events = h.events();
    expect(events.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(events[1]?.event).toMatchObject({ ts: 5000, value: 920, severity: 'critical', device: DEVICE, sensor: 'tc1' });
    // MQTT takes every transition, the webhook only firing and resolved; both see the log's seq.
    expect(h.outbox('mqtt').map((row) => row.item.kind === 'transition' && row.item.seq)).toEqual([1, 2, 3]);
    expect(h.outbox('webhook:ops').map((row) => row.item.kind === 'transition' && row.item.event.to)).toEqual(['firing', 'resolved']);
    expect(h.outbox().every((row) => row.state === 'pending')).toBe(true);
    const [, firing, resolved] = h.outbox('mqtt').map((row) => row.item);
    // The retained state names the episode (the id that acknowledges it), not only the last event.
    expect(firing).toMatchObject({ state: { state: 'firing', eventId: 'ev-1', since: 5000, value: 920, sensor: 'tc1' } });
    expect(resolved).toMatchObject({ state: { state: 'resolved', eventId: 'ev-3', since: 8000 } });
    expect(h.appended.map((batch) => batch.map((r) => r.seq))).toEqual([[1], [2], [3]]);
    expect(h.enqueued).toEqual([['mqtt'], ['mqtt', 'webhook:ops'], ['mqtt', 'webhook:ops']]);
    expect(h.engine.active()).toEqual([]);
    expect(await h.metric('alertTransitions', { rule: 'overheat', to: 'firing' })).toBe(1);
    expect(await h.metric('alertsActive', { phase: 'firing' })).toBe(0);
  });

  it('marks and records transitions under a silence, and notifies only the channels that take silenced items', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900 }));
    h.store.addSilence({
      id: 's1',
      matchers: { device: 'furnace-*', sensor: '*', rule: 'over*' },
      startsAt: 0,
      endsAt: 10_000,
      createdBy: 'ops',
      comment: 'relining',
      createdAt: 0,
    });
    h.feed(reading(1000, 950));
    expect(h.events().map((r) => [r.event.to, r.silenced])).toEqual([['firing', true]]);
    expect(h.engine.active()[0]?.silenced).toBe(true);
    expect(h.outbox('webhook:ops')).toEqual([]);
    expect(h.outbox('mqtt').map((row) => row.item)).toMatchObject([{ kind: 'transition', silenced: true, state: { state: 'firing' } }]);
    // After the silence ends, transitions are notified again.
    h.feed(reading(10_000, 800));
    expect(h.events().map((r) => [r.event.to, r.silenced])).toEqual([
      ['firing', true],
      ['resolved', false],
    ]);
    expect(h.outbox('webhook:ops')).toHaveLength(1);
  });

  it('stops reminders once acknowledged, and the resolve clears the ack and the episode', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900, repeatEvery: 10_000 }));
    h.feed(reading(0, 950));
    h.feed(reading(10_000, 950));
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing', 'overheat/tc1:firing→firing']);
    expect(h.engine.acknowledge('no-such-id', 'ops')).toBeUndefined();
    h.clock = 12_000;
    expect(h.engine.acknowledge('ev-1', 'ops')).toMatchObject({ id: 'ev-1', acknowledged: { by: 'ops', at: 12_000 } });
    expect(h.instanceRows()[0]).toMatchObject({ episode_id: 'ev-1', acked_by: 'ops' });
    h.feed([reading(20_000, 950), reading(30_000, 951), reading(40_000, 952)]);
    expect(h.events()).toHaveLength(2);
    h.feed(reading(41_000, 800));
    expect(h.instanceRows()[0]).toMatchObject({ episode_id: null, acked_by: null });
    // A new episode has a new id, no ack, and reminds again.
    h.feed([reading(50_000, 960), reading(60_000, 960)]);
    expect(h.path().slice(2)).toEqual(['overheat/tc1:firing→resolved', 'overheat/tc1:resolved→firing', 'overheat/tc1:firing→firing']);
    expect(h.engine.active()).toMatchObject([{ id: h.events()[3]?.event.id, phase: 'firing' }]);
    expect(h.engine.active()[0]?.acknowledged).toBeUndefined();
  });

  it('keeps the retained state of (device, rule) firing while any sensor it covers fires', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900, match: { device: DEVICE, sensor: 'tc*' } }));
    h.feed([reading(1000, 950), reading(1000, 960, { sensor: 'tc2' })]);
    h.feed(reading(2000, 800));
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing', 'overheat/tc2:inactive→firing', 'overheat/tc1:firing→resolved']);
    const states = h.outbox('mqtt').map((row) => (row.item.kind === 'transition' ? row.item.state : undefined));
    expect(states[2]).toMatchObject({ state: 'firing', sensor: 'tc2', value: 960, eventId: h.events()[1]?.event.id });
    h.feed(reading(3000, 800, { sensor: 'tc2' }));
    expect(h.outbox('mqtt')[3]?.item).toMatchObject({ state: { state: 'resolved', sensor: 'tc2', since: 3000 } });
  });
});

describe('AlertEngine: guarded callbacks', () => {
  it('commits and notifies the others when a listener or a channel filter throws', () => {
    const broken = {
      name: 'webhook:broken',
      wants: (): boolean => {
        throw new Error('bad filter');
      },
    };
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900 }), [broken, webhookChannel]);
    h.engine.events.prependListener('appended', () => {
      throw new Error('bad listener');
    });
    expect(() => h.feed(reading(0, 950))).not.toThrow();
    expect(h.outbox().map((row) => row.channel)).toEqual(['webhook:ops']);
    expect(h.appended.map((batch) => batch.length)).toEqual([1]);
  });
});

describe('AlertEngine: device status, sensor health and time', () => {
  const offline = rules({ id: 'gone', kind: 'offline', match: { device: 'furnace-*' } });

  it('fires offline when the retained status is cleared, and resolves when the device is back', () => {
    h = new EngineHarness(offline);
    h.engine.readings(DEVICE, [reading(0, 20)], 0);
    expect(h.instanceRows().map((row) => row.key)).toEqual([`gone/${DEVICE}/`]);
    h.engine.statusCleared(DEVICE, 1000);
    h.engine.status(DEVICE, 'online', 2000);
    expect(h.path()).toEqual(['gone:inactive→firing', 'gone:firing→resolved']);
    expect(h.events()[0]?.event.sensor).toBeUndefined();
  });

  it('waits `for` an offline device on the clock, and reports bad sensor health', () => {
    h = new EngineHarness([
      ...rules({ id: 'gone', kind: 'offline', match: { device: 'furnace-*' }, for: 30_000 }),
      ...rules({ id: 'sick', kind: 'sensor', match: { device: DEVICE, sensor: '*' } }),
    ]);
    h.engine.status(DEVICE, 'offline', 0);
    h.engine.tick(29_999);
    expect(h.path()).toEqual(['gone:inactive→pending']);
    h.engine.tick(30_000);
    h.engine.sensors(
      DEVICE,
      { v: 1, device: DEVICE, ts: 31_000, sensors: [{ sensor: 'tc3', state: 'disconnected', since: 31_000, reason: 'open circuit' }] },
      31_000,
    );
    expect(h.path()).toEqual(['gone:inactive→pending', 'gone:pending→firing', 'sick/tc3:inactive→firing']);
    expect(h.events()[2]?.event.message).toBe('tc3 is disconnected: open circuit');
  });

  it('fires stale on a tick when nothing arrives, and writes nothing on ticks that change nothing', () => {
    h = new EngineHarness(rules({ id: 'quiet', kind: 'stale', after: 60_000 }));
    h.engine.readings(DEVICE, [reading(0, 20)], 0);
    const commit = vi.spyOn(h.store, 'commit');
    for (let t = 1000; t < 60_000; t += 1000) h.engine.tick(t);
    expect(commit).not.toHaveBeenCalled();
    h.engine.tick(60_000);
    expect(commit).toHaveBeenCalledTimes(1);
    expect(h.path()).toEqual(['quiet/tc1:inactive→firing']);
    h.engine.readings(DEVICE, [reading(61_000, 20)], 61_000);
    expect(h.path()).toEqual(['quiet/tc1:inactive→firing', 'quiet/tc1:firing→resolved']);
  });

  it('runs ticks on its own timer once started', () => {
    vi.useFakeTimers();
    try {
      h = new EngineHarness(rules({ id: 'quiet', kind: 'stale', after: 5000 }));
      h.engine.readings(DEVICE, [reading(0, 20)], 0);
      h.engine.start();
      h.clock = 5000;
      vi.advanceTimersByTime(1000);
      expect(h.path()).toEqual(['quiet/tc1:inactive→firing']);
      h.engine.stop();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('AlertEngine: cost', () => {
  it('evaluates 1,000 readings per second against five rules cheaply (printed, not asserted)', () => {
    h = new EngineHarness(
      rules(
        { id: 'hot', kind: 'threshold', above: 2000, match: { device: 'furnace-*', sensor: '*' } },
        { id: 'cold', kind: 'threshold', below: -100, match: { device: 'furnace-*', sensor: '*' } },
        { id: 'ramp', kind: 'rate', above: 1000, window: 60_000, match: { device: 'furnace-*', sensor: '*' } },
        { id: 'quiet', kind: 'stale', after: 60_000, match: { device: 'furnace-*', sensor: '*' } },
        { id: 'gone', kind: 'offline', match: { device: 'furnace-*' } },
      ),
    );
    const seconds = 30;
    const started = process.cpuUsage();
    // Ten devices, ten sensors each, ten readings per sensor per second, one batch per device per second.
    for (let s = 0; s < seconds; s++) {
      for (let d = 0; d < 10; d++) {
        const batch = [];
        for (let i = 0; i < 100; i++) batch.push(reading(s * 1000 + (i % 10) * 100, 500 + (i % 7), { sensor: `tc${Math.floor(i / 10)}` }));
        h.engine.readings(`furnace-${d}`, batch, s * 1000 + 999);
      }
      h.engine.tick(s * 1000 + 999);
    }
    const cpu = process.cpuUsage(started);
    const msPerSecond = (cpu.user + cpu.system) / 1000 / seconds;
    console.log(
      `alert engine: ${msPerSecond.toFixed(1)} ms CPU per second of 1,000 readings x 5 rules (${h.instanceRows().length} instances)`,
    );
    expect(h.events()).toEqual([]);
    expect(h.instanceRows()).toHaveLength(10 * 10 * 4 + 10);
  });
});
