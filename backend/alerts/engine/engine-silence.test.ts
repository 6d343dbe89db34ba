import { afterEach, describe, expect, it } from 'vitest';
import { DEVICE, EngineHarness, reading, rules } from '../../../test/helpers/alert-engine-fixtures.js';
import type { Silence } from '../types.js';

// An alert that began firing under a silence is notified once when the silence ends, by the
// first tick after (or at once when the silence is ended early), and only once: across restarts too.

const CAUGHT_UP = 'overheat/tc1:firing→firing';

let h: EngineHarness;
afterEach(() => h.close());

function silence(id: string, startsAt: number, endsAt: number): Silence {
  return {
    id,
    matchers: { device: 'furnace-*', sensor: '*', rule: '*' },
    startsAt,
    endsAt,
    createdBy: 'ops',
    comment: 'relining',
    createdAt: startsAt,
  };
}

/** `overheat` fires at 1000 under a silence until 10 000. */
function fireSilenced(extra: Record<string, unknown> = {}): void {
  h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900, ...extra }));
  h.store.addSilence(silence('s1', 0, 10_000));
  h.feed(reading(1000, 950));
  expect(h.events().map((r) => [r.event.to, r.silenced])).toEqual([['firing', true]]);
  expect(h.outbox('webhook:ops')).toEqual([]);
}

/** Whether the stored state (what a restart loads) says a notice is owed. */
const owed = () => (JSON.parse(h.instanceRows()[0]?.state ?? '{}') as { owedNotice?: boolean }).owedNotice === true;

/** The one catch-up: logged unsilenced, queued for both channels with the retained state. */
function expectCaughtUpOnce(ts: number): void {
  const events = h.events();
  expect(h.path()).toEqual(['overheat/tc1:inactive→firing', CAUGHT_UP]);
  const [fired, caught] = events;
  expect(caught).toMatchObject({
    silenced: false,
    event: { ts, value: 950, severity: 'critical', sensor: 'tc1', message: `${fired?.event.message} (silence ended)` },
  });
  expect(h.outbox('webhook:ops').map((row) => row.item)).toMatchObject([
    { kind: 'transition', seq: 2, silenced: false, event: { from: 'firing', to: 'firing' } },
  ]);
  expect(h.outbox('mqtt').map((row) => row.item)).toMatchObject([
    { seq: 1, silenced: true, state: { state: 'firing' } },
    { seq: 2, silenced: false, state: { state: 'firing', eventId: 'ev-1', since: 1000, message: caught?.event.message } },
  ]);
  expect(owed()).toBe(false);
}

describe('AlertEngine: notice after a silence', () => {
  it('notifies a still-firing alert once on the first tick after its silence expires', async () => {
    fireSilenced();
    expect(owed()).toBe(true);
    h.engine.tick(5000);
    h.engine.tick(9999);
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing']);
    h.engine.tick(10_000);
    expectCaughtUpOnce(10_000);
    expect(h.enqueued.at(-1)).toEqual(['mqtt', 'webhook:ops']);
    expect(await h.metric('alertTransitions', { rule: 'overheat', to: 'firing' })).toBe(2);
    h.clock = 10_000;
    expect(h.engine.active()).toMatchObject([
      { id: 'ev-1', silenced: false, message: expect.stringMatching(/\(silence ended\)$/) as unknown },
    ]);
    for (const at of [11_000, 20_000, 60_000]) h.engine.tick(at);
    h.feed(reading(61_000, 960));
    expect(h.events()).toHaveLength(2);
  });

  it('keeps the debt across a restart between the end of the silence and the tick, crashed or not', () => {
    for (const crash of [false, true]) {
      fireSilenced();
      h.clock = 15_000;
      h.restart(undefined, { crash });
      expect(owed()).toBe(true);
      h.engine.tick(15_000);
      expectCaughtUpOnce(15_000);
      h.clock = 20_000;
      h.restart(undefined, { crash });
      h.engine.tick(21_000);
      expect(h.events()).toHaveLength(2);
      h.close();
    }
    h = new EngineHarness([]);
  });

  it('notifies after the silence when the backend restarted while it was silenced', () => {
    fireSilenced();
    h.clock = 5000;
    h.restart();
    h.engine.tick(6000);
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing']);
    h.engine.tick(10_500);
    expectCaughtUpOnce(10_500);
  });

  it('notifies an alert ended early at once, when the silence is ended, and not again on the next tick', () => {
    h = new EngineHarness(rules({ id: 'overheat', kind: 'threshold', above: 900 }));
    h.store.addSilence(silence('s1', 0, 100_000));
    h.feed(reading(1000, 950));
    h.clock = 3000;
    expect(h.store.removeSilence('s1', 3000)).toBe(true);
    expectCaughtUpOnce(3000);
    h.engine.tick(4000);
    expect(h.events()).toHaveLength(2);
  });

  it('waits for every silence that covers the alert to end', () => {
    fireSilenced();
    h.store.addSilence({ ...silence('s2', 5000, 20_000), matchers: { device: DEVICE, sensor: 'tc1', rule: 'overheat' } });
    h.engine.tick(10_000);
    h.engine.tick(19_999);
    expect(h.events()).toHaveLength(1);
    h.engine.tick(20_000);
    expectCaughtUpOnce(20_000);
  });

  it('owes nothing for an alert that resolved while silenced', () => {
    fireSilenced();
    h.feed(reading(2000, 800));
    expect(owed()).toBe(false);
    h.engine.tick(10_000);
    h.engine.tick(20_000);
    expect(h.path()).toEqual(['overheat/tc1:inactive→firing', 'overheat/tc1:firing→resolved']);
    expect(h.outbox('webhook:ops')).toEqual([]);
  });

  it('skips an alert acknowledged meanwhile: someone knows of it already', () => {
    fireSilenced();
    h.clock = 5000;
    expect(h.engine.acknowledge('ev-1', 'ops')).toMatchObject({ acknowledged: { by: 'ops' } });
    h.engine.tick(10_000);
    h.restart();
    h.engine.tick(20_000);
    expect(h.events()).toHaveLength(1);
    expect(h.outbox('webhook:ops')).toEqual([]);
    // Its resolve, after the silence, is notified as usual.
    h.feed(reading(30_000, 800));
    expect(h.outbox('webhook:ops').map((row) => row.item.kind === 'transition' && row.item.event.to)).toEqual(['resolved']);
  });

  it('counts reminders from the catch-up, and owes again for a reminder under a later silence', () => {
    fireSilenced({ repeatEvery: 10_000 });
    h.store.addSilence(silence('s1-longer', 0, 15_000));
    h.feed(reading(11_000, 950));
    expect(h.events().map((r) => [r.event.from, r.silenced])).toEqual([
      ['inactive', true],
      ['firing', true],
    ]);
    h.engine.tick(15_000);
    expect(h.events().map((r) => [r.event.to, r.silenced])).toEqual([
      ['firing', true],
      ['firing', true],
      ['firing', false],
    ]);
    h.engine.tick(21_000);
    expect(h.events()).toHaveLength(3);
    h.store.addSilence(silence('s2', 22_000, 30_000));
    h.engine.tick(25_000);
    h.engine.tick(29_000);
    expect(h.events().map((r) => r.silenced)).toEqual([true, true, false, true]);
    h.engine.tick(30_000);
    const caught = h.events().map((r) => [r.silenced, r.event.message]);
    expect(caught).toHaveLength(5);
    expect(caught[4]).toEqual([false, `${h.events()[3]?.event.message} (silence ended)`]);
    expect(h.outbox('webhook:ops')).toHaveLength(2);
  });
});
