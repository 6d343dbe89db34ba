import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendMetrics } from '../metrics.js';
import type { RegistryEntry } from '../registry/device-registry.js';
import type { GapQuery, SeqGap } from '../store/reading-store.js';
import type { CommandAnswer, CommandRequest } from './command-client.js';
import { CommandError } from './command-errors.js';
import { GapFiller, MAX_ASKS, MAX_RESENDS_IN_FLIGHT } from './gap-filler.js';

// The gap filler's choices (when, what, how often), driven by explicit times through check(now).
// The store, registry and command sender are stand-ins here; test/backend-gap-fill.test.ts fills a
// real gap through a real broker and store.

const T0 = 1_764_340_000_000;
const FILL_AFTER = 1000;
const REPEAT = 60_000;
const gap = (device: string, fromSeq: number, toSeq: number, boot = 'b1'): SeqGap => ({
  device,
  boot,
  fromSeq,
  toSeq,
  afterTs: 0,
  beforeTs: 0,
});

interface Sent {
  request: CommandRequest;
  answer: (result: CommandAnswer | CommandError) => void;
}

function setUp(devices: string[] = ['dev-a']) {
  const gaps = new Map<string, SeqGap[]>(devices.map((device) => [device, []]));
  const states = new Map<string, 'online' | 'offline'>(devices.map((device) => [device, 'online']));
  const queried: string[] = [];
  const sent: Sent[] = [];
  const metrics = new BackendMetrics();
  const entry = (device: string): RegistryEntry | undefined => {
    const state = states.get(device);
    return state && { device, status: { state, ts: T0, receivedAt: T0, sensors: [] }, sensorHealth: [] };
  };
  const filler = new GapFiller({
    store: {
      gaps: (query: GapQuery) => {
        queried.push(query.device);
        // As the store pages: (boot, fromSeq) order, after the position given.
        const { after } = query;
        const past = (gap: SeqGap) => !after || gap.boot > after.boot || (gap.boot === after.boot && gap.fromSeq > after.fromSeq);
        const all = (gaps.get(query.device) ?? []).filter(past);
        const items = all.slice(0, query.limit);
        const last = items.at(-1);
        const truncated = all.length > items.length;
        return Promise.resolve({ items, truncated, next: truncated && last ? { boot: last.boot, fromSeq: last.fromSeq } : undefined });
      },
    },
    registry: { get: entry, list: () => devices.map((device) => entry(device) as RegistryEntry) },
    commands: {
      send: (request) =>
        new Promise((resolve, reject) =>
          sent.push({ request, answer: (result) => (result instanceof CommandError ? reject(result) : resolve(result)) }),
        ),
    },
    metrics,
    log: pino({ level: 'silent' }),
    fillAfterMs: FILL_AFTER,
    repeatMs: REPEAT,
    timeoutMs: 5000,
    checkEveryMs: 0,
  });
  /** Answers a resend and lets the filler see the answer. */
  const answer = async (sentOne: Sent | undefined, result: CommandAnswer | CommandError = ok) => {
    sentOne?.answer(result);
    await new Promise((resolve) => setImmediate(resolve));
  };
  const given = async () => (await metrics.gapFillGivenUp.get()).values[0]?.value ?? 0;
  return { filler, gaps, states, queried, sent, answer, given };
}

// The agent's resend reply (agent/commands/resend.ts).
const ok: CommandAnswer = {
  outcome: 'ok',
  data: { boot: 'b1', fromSeq: 4, toSeq: 6, held: 3, notHeld: 0 },
  requestId: 'r',
  ts: T0,
  latencyMs: 1,
};
const heldNone = (fromSeq: number, toSeq: number): CommandAnswer => ({
  ...ok,
  data: { boot: 'b1', fromSeq, toSeq, held: 0, notHeld: toSeq - fromSeq + 1, note: 'readings the outbox no longer holds ...' },
});
const argsOf = (sent: Sent[]) => sent.map(({ request }) => request.args);

let stop: (() => void) | undefined;
afterEach(() => stop?.());

describe('GapFiller', () => {
  it('asks for a gap once it has been open fillAfterMs, the oldest first, one at a time per device', async () => {
    const t = setUp();
    stop = () => t.filler.stop();
    t.gaps.set('dev-a', [gap('dev-a', 4, 6), gap('dev-a', 10, 12)]);
    await t.filler.check(T0);
    await t.filler.check(T0 + FILL_AFTER - 1);
    expect(t.sent).toEqual([]);
    await t.filler.check(T0 + FILL_AFTER);
    expect(t.sent.map(({ request }) => request)).toEqual([
      { device: 'dev-a', command: 'resend', args: { boot: 'b1', fromSeq: 4, toSeq: 6 }, timeoutMs: 5000, requester: 'gap-filler' },
    ]);
    await t.filler.check(T0 + FILL_AFTER + 100);
    expect(t.sent).toHaveLength(1); // its resend is still waiting for the reply
    await t.answer(t.sent[0]);
    await t.filler.check(T0 + FILL_AFTER + 200);
    expect(argsOf(t.sent)).toEqual([
      { boot: 'b1', fromSeq: 4, toSeq: 6 },
      { boot: 'b1', fromSeq: 10, toSeq: 12 },
    ]);
  });

  it('asks again for a gap still open only after repeatMs, a shrunk one included, and gives up after MAX_ASKS', async () => {
    const t = setUp();
    stop = () => t.filler.stop();
    t.gaps.set('dev-a', [gap('dev-a', 4, 9)]);
    await t.filler.check(T0);
    await t.filler.check(T0 + FILL_AFTER);
    await t.answer(t.sent[0]);
    // Part of it came back: what is left is the same gap, not a new one to ask for at once.
    t.gaps.set('dev-a', [gap('dev-a', 7, 9)]);
    await t.filler.check(T0 + FILL_AFTER + REPEAT - 1);
    expect(t.sent).toHaveLength(1);
    for (let ask = 2; ask <= MAX_ASKS; ask++) {
      await t.filler.check(T0 + FILL_AFTER + (ask - 1) * REPEAT);
      expect(t.sent).toHaveLength(ask);
      await t.answer(t.sent[ask - 1], new CommandError('COMMAND_TIMEOUT', 'no reply'));
    }
    expect(argsOf(t.sent).at(-1)).toEqual({ boot: 'b1', fromSeq: 7, toSeq: 9 });
    await t.filler.check(T0 + FILL_AFTER + MAX_ASKS * REPEAT);
    await t.filler.check(T0 + FILL_AFTER + (MAX_ASKS + 5) * REPEAT);
    expect(t.sent).toHaveLength(MAX_ASKS);
    expect(await t.given()).toBe(1);
    // Another gap of the same device is asked for as usual.
    t.gaps.set('dev-a', [gap('dev-a', 7, 9), gap('dev-a', 20, 20)]);
    await t.filler.check(T0 + 10 * REPEAT);
    await t.filler.check(T0 + 10 * REPEAT + FILL_AFTER);
    expect(argsOf(t.sent).at(-1)).toEqual({ boot: 'b1', fromSeq: 20, toSeq: 20 });
  });

  it('asks nothing of an offline device, and asks once it is back online', async () => {
    const t = setUp();
    stop = () => t.filler.stop();
    t.gaps.set('dev-a', [gap('dev-a', 4, 6)]);
    t.states.set('dev-a', 'offline');
    await t.filler.check(T0);
    await t.filler.check(T0 + 10 * FILL_AFTER);
    expect(t.sent).toEqual([]);
    t.states.set('dev-a', 'online');
    await t.filler.check(T0 + 10 * FILL_AFTER + 1);
    expect(argsOf(t.sent)).toEqual([{ boot: 'b1', fromSeq: 4, toSeq: 6 }]);
  });

  it('looks only at devices that may have a gap: known at start, or stored to by a commit that opened one', async () => {
    const t = setUp(['dev-a', 'dev-b']);
    stop = () => t.filler.stop();
    await t.filler.check(T0);
    expect(t.queried.sort()).toEqual(['dev-a', 'dev-b']);
    // No gap anywhere: nobody is looked at again, whatever is stored, until a commit opens a gap.
    t.filler.stored('dev-a');
    t.filler.committed(0);
    await t.filler.check(T0 + 1);
    expect(t.queried).toHaveLength(2);
    t.gaps.set('dev-b', [gap('dev-b', 2, 2)]);
    t.filler.committed(1);
    t.filler.stored('dev-b');
    await t.filler.check(T0 + 2);
    expect(t.queried.slice(2)).toEqual(['dev-b']);
    await t.filler.check(T0 + 2 + FILL_AFTER);
    expect(t.sent.map(({ request }) => request.device)).toEqual(['dev-b']);
    await t.answer(t.sent[0]);
    t.gaps.set('dev-b', []);
    await t.filler.check(T0 + 3 + FILL_AFTER);
    await t.filler.check(T0 + 4 + FILL_AFTER);
    expect(t.queried.slice(2)).toEqual(['dev-b', 'dev-b', 'dev-b']);
  });

  it('counts only asks that went out: refusals before publishing (busy, no broker, offline) are asked again at the next check', async () => {
    const t = setUp();
    stop = () => t.filler.stop();
    t.gaps.set('dev-a', [gap('dev-a', 4, 6)]);
    await t.filler.check(T0);
    const refusals = ['COMMAND_BUSY', 'COMMAND_UNAVAILABLE', 'COMMAND_DEVICE_OFFLINE', 'COMMAND_BUSY', 'COMMAND_BUSY'] as const;
    for (const [i, code] of refusals.entries()) {
      await t.filler.check(T0 + FILL_AFTER + i);
      expect(t.sent).toHaveLength(i + 1);
      await t.answer(t.sent[i], new CommandError(code, 'not sent'));
    }
    // Still MAX_ASKS asks that go out before giving up.
    for (let ask = 1; ask <= MAX_ASKS; ask++) {
      await t.filler.check(T0 + FILL_AFTER + refusals.length + (ask - 1) * REPEAT);
      expect(t.sent).toHaveLength(refusals.length + ask);
      await t.answer(t.sent.at(-1), new CommandError('COMMAND_TIMEOUT', 'no reply'));
    }
    expect(await t.given()).toBe(0);
    await t.filler.check(T0 + FILL_AFTER + refusals.length + MAX_ASKS * REPEAT);
    expect(await t.given()).toBe(1);
    expect(t.sent).toHaveLength(refusals.length + MAX_ASKS);
  });

  it('gives a gap up at once when the agent answers it holds none of it, counted once, never asked again', async () => {
    const t = setUp();
    stop = () => t.filler.stop();
    t.gaps.set('dev-a', [gap('dev-a', 4, 6)]);
    await t.filler.check(T0);
    await t.filler.check(T0 + FILL_AFTER);
    await t.answer(t.sent[0], heldNone(4, 6));
    expect(await t.given()).toBe(1);
    for (let i = 1; i <= MAX_ASKS + 2; i++) await t.filler.check(T0 + FILL_AFTER + i * REPEAT);
    expect(t.sent).toHaveLength(1);
    expect(await t.given()).toBe(1);
  });

  it('pages past given-up gaps: gaps beyond the first page are reached', async () => {
    const t = setUp();
    stop = () => t.filler.stop();
    const many = Array.from({ length: 70 }, (_, i) => gap('dev-a', 10 * i + 1, 10 * i + 2));
    t.gaps.set('dev-a', many);
    await t.filler.check(T0);
    let now = T0 + FILL_AFTER;
    // The agent holds none of the first 64 (a store page): each is given up in turn.
    for (let i = 0; i < 64; i++) {
      await t.filler.check(now++);
      expect(argsOf(t.sent).at(-1)).toEqual({ boot: 'b1', fromSeq: 10 * i + 1, toSeq: 10 * i + 2 });
      await t.answer(t.sent.at(-1), heldNone(10 * i + 1, 10 * i + 2));
    }
    expect(await t.given()).toBe(64);
    await t.filler.check(now++); // the gaps past the first page are seen now...
    await t.filler.check(now + FILL_AFTER); // ...and asked for once open fillAfterMs
    expect(argsOf(t.sent).at(-1)).toEqual({ boot: 'b1', fromSeq: 641, toSeq: 642 });
    expect(t.sent).toHaveLength(65);
  });

  it('asks nothing of a boot while its replayed readings keep arriving (it is catching up), other boots as usual', async () => {
    const t = setUp();
    stop = () => t.filler.stop();
    t.gaps.set('dev-a', [gap('dev-a', 4, 6, 'b1'), gap('dev-a', 2, 3, 'b2')]);
    await t.filler.check(T0);
    t.filler.replayed('dev-a', 'b1', T0 + FILL_AFTER - 10);
    await t.filler.check(T0 + FILL_AFTER);
    expect(argsOf(t.sent)).toEqual([{ boot: 'b2', fromSeq: 2, toSeq: 3 }]);
    await t.answer(t.sent[0]);
    t.gaps.set('dev-a', [gap('dev-a', 4, 6, 'b1')]);
    await t.filler.check(T0 + 2 * FILL_AFTER - 11);
    expect(t.sent).toHaveLength(1);
    // No replay of b1 for fillAfterMs: it has caught up, and what is still missing is asked for.
    await t.filler.check(T0 + 2 * FILL_AFTER - 10);
    expect(argsOf(t.sent).at(-1)).toEqual({ boot: 'b1', fromSeq: 4, toSeq: 6 });
  });

  it(`has at most ${MAX_RESENDS_IN_FLIGHT} resends waiting across the fleet`, async () => {
    const devices = ['dev-a', 'dev-b', 'dev-c', 'dev-d'];
    const t = setUp(devices);
    stop = () => t.filler.stop();
    for (const device of devices) t.gaps.set(device, [gap(device, 4, 6)]);
    await t.filler.check(T0);
    await t.filler.check(T0 + FILL_AFTER);
    await t.filler.check(T0 + FILL_AFTER + 1);
    expect(t.sent.map(({ request }) => request.device)).toEqual(['dev-a', 'dev-b']);
    await t.answer(t.sent[0]);
    t.gaps.set('dev-a', []);
    await t.filler.check(T0 + FILL_AFTER + 2);
    expect(t.sent.map(({ request }) => request.device)).toEqual(['dev-a', 'dev-b', 'dev-c']);
  });
});
