import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClockState, CommandReply } from '../../contract/index.js';
import { AgentMetrics } from '../health/metrics.js';
import { CommandDispatcher } from './dispatcher.js';
import { type CommandHandlers, ok } from './handler.js';
import { ReplyCache } from './reply-cache.js';

const log = pino({ level: 'silent' });
const T0 = 1_800_000_000_000;

/** Handlers that record their calls; each may be replaced per test. */
function handlers(overrides: Partial<CommandHandlers> = {}): { table: CommandHandlers; calls: string[] } {
  const calls: string[] = [];
  const record =
    (name: string, data: unknown = { name }) =>
    () => (calls.push(name), ok(data));
  const table: CommandHandlers = {
    'read-now': record('read-now'),
    'set-interval': record('set-interval'),
    announce: record('announce'),
    outbox: record('outbox'),
    resend: record('resend'),
    ping: record('ping'),
    ...overrides,
  };
  return { table, calls };
}

function dispatcher(
  table: CommandHandlers,
  options: { clock?: ClockState; now?: () => number; maxRunning?: number; cache?: ReplyCache } = {},
) {
  const metrics = new AgentMetrics({ outboxDepth: () => 0, outboxOldestAgeMs: () => 0, mqttConnected: () => true });
  const clock = options.clock ?? 'synced';
  const instance = new CommandDispatcher({
    handlers: table,
    clock: () => clock,
    metrics,
    log,
    now: options.now ?? (() => T0),
    maxRunning: options.maxRunning,
    cache: options.cache,
  });
  const metric = async (name: string, labels = '') =>
    Number(
      (await metrics.registry.metrics())
        .split('\n')
        .find((line) => line.startsWith(`${name}${labels} `))
        ?.split(' ')[1] ?? 0,
    );
  return { instance, metric };
}

const request = (requestId: string, args?: Record<string, unknown>, deadline = T0 + 5000) =>
  Buffer.from(JSON.stringify({ v: 1, requestId, deadline, requester: 'ops', ...(args ? { args } : {}) }));

describe('CommandDispatcher', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a request and replies ok with its requestId, command, data and time', async () => {
    const { table, calls } = handlers();
    const { instance, metric } = dispatcher(table);
    const reply = await instance.handle('ping', request('r1'));
    expect(reply).toEqual({ v: 1, requestId: 'r1', command: 'ping', outcome: 'ok', data: { name: 'ping' }, ts: T0 });
    expect(calls).toEqual(['ping']);
    expect(await metric('furnace_agent_commands_total', '{command="ping",outcome="ok"}')).toBe(1);
    expect(await metric('furnace_agent_command_duration_seconds_count', '{command="ping"}')).toBe(1);
  });

  it('answers a redelivered request from the cache: one execution, two identical replies', async () => {
    const { table, calls } = handlers();
    let now = T0;
    const { instance, metric } = dispatcher(table, { now: () => now });
    const first = await instance.handle('set-interval', request('r1', { sensor: 'tc1', intervalMs: 500 }));
    now += 2000;
    const second = await instance.handle('set-interval', request('r1', { sensor: 'tc1', intervalMs: 500 }));
    expect(second).toEqual(first);
    expect(second?.ts).toBe(T0);
    expect(calls).toEqual(['set-interval']);
    expect(await metric('furnace_agent_command_duplicates_total')).toBe(1);
    expect(await metric('furnace_agent_commands_total', '{command="set-interval",outcome="ok"}')).toBe(1);
  });

  it('answers a duplicate that arrives while the command still runs once it completes, without running it twice', async () => {
    let finish: (value: void) => void = () => undefined;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    let runs = 0;
    const { table } = handlers({ 'read-now': async () => (runs++, await gate, ok({ value: 812 })) });
    const { instance } = dispatcher(table);
    const first = instance.handle('read-now', request('r1'));
    const second = instance.handle('read-now', request('r1'));
    let settled = false;
    void second.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    finish();
    const [a, b] = await Promise.all([first, second]);
    expect(runs).toBe(1);
    expect(b).toEqual(a);
    expect(a?.data).toEqual({ value: 812 });
  });

  it('forgets replies past the cache bounds, so a request id seen long ago runs again', async () => {
    const { table, calls } = handlers();
    let now = T0;
    const { instance } = dispatcher(table, { now: () => now, cache: new ReplyCache({ maxEntries: 2, ttlMs: 1000 }) });
    await instance.handle('ping', request('a', undefined, T0 + 60_000));
    await instance.handle('ping', request('b', undefined, T0 + 60_000));
    await instance.handle('ping', request('c', undefined, T0 + 60_000)); // pushes `a` out by count
    await instance.handle('ping', request('a', undefined, T0 + 60_000));
    expect(calls).toHaveLength(4);
    now += 1000; // everything is past the time bound now
    await instance.handle('ping', request('c', undefined, T0 + 60_000));
    expect(calls).toHaveLength(5);
  });

  it('refuses JSON of the wrong shape as malformed when it names a requestId, and drops (counting) what names none', async () => {
    const { table, calls } = handlers();
    const { instance, metric } = dispatcher(table);
    const malformed = await instance.handle('ping', Buffer.from(JSON.stringify({ v: 1, requestId: 'r1', deadline: 'soon' })));
    expect(malformed).toMatchObject({ requestId: 'r1', command: 'ping', outcome: 'refused', code: 'AGENT_COMMAND_MALFORMED' });
    expect(malformed?.reason).toMatch(/\/deadline/);
    expect(malformed?.reason).toMatch(/\/requester/);
    expect(await instance.handle('ping', Buffer.from('{"requestId": "r2",'))).toBeUndefined();
    expect(await instance.handle('ping', Buffer.from(JSON.stringify({ v: 1, requestId: '' })))).toBeUndefined();
    expect(await instance.handle('ping', Buffer.from('[1, 2]'))).toBeUndefined();
    expect(calls).toEqual([]);
    expect(await metric('furnace_agent_commands_dropped_total', '{cause="not_json"}')).toBe(1);
    expect(await metric('furnace_agent_commands_dropped_total', '{cause="schema"}')).toBe(2);
    expect(await metric('furnace_agent_commands_total', '{command="ping",outcome="refused"}')).toBe(1);
  });

  it('refuses an unknown command, naming the ones it answers', async () => {
    const { instance, metric } = dispatcher(handlers().table);
    const reply = await instance.handle('reboot', request('r1'));
    expect(reply).toMatchObject({ requestId: 'r1', command: 'reboot', outcome: 'refused', code: 'AGENT_COMMAND_UNKNOWN' });
    expect(reply?.reason).toContain('read-now, set-interval, announce, outbox, resend, ping');
    expect(await metric('furnace_agent_commands_total', '{command="unknown",outcome="refused"}')).toBe(1);
  });

  it('refuses bad arguments, naming each', async () => {
    const { table, calls } = handlers();
    const { instance } = dispatcher(table);
    const tooFast = await instance.handle('set-interval', request('r1', { sensor: 'tc1', intervalMs: 5 }));
    expect(tooFast).toMatchObject({ outcome: 'refused', code: 'AGENT_COMMAND_BAD_ARGS' });
    expect(tooFast?.reason).toMatch(/^argument intervalMs: /);
    const extra = await instance.handle('ping', request('r2', { verbose: true }));
    expect(extra).toMatchObject({ outcome: 'refused', code: 'AGENT_COMMAND_BAD_ARGS' });
    expect(extra?.reason).toMatch(/argument verbose/);
    const missing = await instance.handle('resend', request('r3', { boot: 'b1', fromSeq: 1 }));
    expect(missing?.reason).toMatch(/argument toSeq/);
    expect(calls).toEqual([]);
  });

  it('refuses a request past its deadline when the clock is synchronised, and runs it when it is not', async () => {
    const late = request('r1', undefined, T0 - 1);
    const synced = handlers();
    expect(await dispatcher(synced.table, { clock: 'synced' }).instance.handle('ping', late)).toMatchObject({
      outcome: 'refused',
      code: 'AGENT_COMMAND_EXPIRED',
      reason: 'arrived 1 ms after its deadline (agent clock synchronised)',
    });
    expect(synced.calls).toEqual([]);
    const unsynced = handlers();
    expect(await dispatcher(unsynced.table, { clock: 'unsynced' }).instance.handle('ping', late)).toMatchObject({ outcome: 'ok' });
    expect(unsynced.calls).toEqual(['ping']);
  });

  it('fails a command still running at its deadline, saying what it waited for', async () => {
    vi.useFakeTimers({ now: T0 });
    const { table } = handlers({
      'read-now': (_args, { waitingFor }) => {
        waitingFor(() => 'no reading of tc1 came (sensor stalled)');
        return new Promise(() => undefined);
      },
    });
    const { instance, metric } = dispatcher(table, { now: Date.now });
    const reply = instance.handle('read-now', request('r1', undefined, T0 + 300));
    await vi.advanceTimersByTimeAsync(300);
    expect(await reply).toMatchObject({
      outcome: 'failed',
      code: 'AGENT_COMMAND_TIMED_OUT',
      reason: 'not done within 300 ms (its deadline): no reading of tc1 came (sensor stalled)',
      ts: T0 + 300,
    });
    expect(await metric('furnace_agent_commands_total', '{command="read-now",outcome="failed"}')).toBe(1);
  });

  it('bounds an unsynced agent by a fixed time when the deadline has passed by its clock', async () => {
    vi.useFakeTimers({ now: T0 });
    const { table } = handlers({ 'read-now': () => new Promise(() => undefined) });
    const { instance } = dispatcher(table, { clock: 'unsynced', now: Date.now });
    let reply: CommandReply | undefined;
    void instance.handle('read-now', request('r1', undefined, T0 - 3_600_000)).then((answer) => (reply = answer));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(reply).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(reply).toMatchObject({ outcome: 'failed', code: 'AGENT_COMMAND_TIMED_OUT' });
  });

  it('runs each request on its own: a slow read-now does not delay a ping', async () => {
    const { table } = handlers({ 'read-now': () => new Promise(() => undefined) });
    const { instance } = dispatcher(table);
    let slowDone = false;
    void instance.handle('read-now', request('slow')).then(() => (slowDone = true));
    expect(await instance.handle('ping', request('fast'))).toMatchObject({ requestId: 'fast', outcome: 'ok' });
    expect(slowDone).toBe(false);
    instance.stop();
  });

  it('refuses past its bound of running commands instead of piling them up', async () => {
    const { table } = handlers({ 'read-now': () => new Promise(() => undefined) });
    const { instance } = dispatcher(table, { maxRunning: 2 });
    void instance.handle('read-now', request('r1'));
    void instance.handle('read-now', request('r2'));
    expect(await instance.handle('read-now', request('r3'))).toMatchObject({ outcome: 'refused', code: 'AGENT_COMMAND_BUSY' });
    instance.stop();
  });

  it('ends running commands when the agent stops, failed with AGENT_STOPPING', async () => {
    const { table } = handlers({ 'read-now': () => new Promise(() => undefined) });
    const { instance } = dispatcher(table);
    const reply = instance.handle('read-now', request('r1'));
    await Promise.resolve();
    instance.stop();
    expect(await reply).toMatchObject({ outcome: 'failed', code: 'AGENT_STOPPING' });
  });

  it('turns a handler that throws into a failed reply with the error code, or AGENT_COMMAND_FAILED', async () => {
    const { table } = handlers({
      announce: () => {
        throw new Error('the broker went away');
      },
    });
    const { instance } = dispatcher(table);
    expect(await instance.handle('announce', request('r1'))).toMatchObject({
      outcome: 'failed',
      code: 'AGENT_COMMAND_FAILED',
      reason: 'the broker went away',
    });
  });
});
