import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.js';
import type { Socket } from 'node:net';
import { StreamReader } from '../../test/helpers/sse-reader.js';
import { type AlertsTestApp, buildAlertsTestApp, storedReading, transition } from '../../test/helpers/fake-alerts-service.js';
import type { StreamRouteDeps } from './stream-routes.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const soon = { timeoutMs: 5000 };
/** The run token in the bare id a fresh readings stream starts with. */
const epochOf = (reader: StreamReader) => /^id: (.+)-\d+\n\n/.exec(reader.body)?.[1] ?? 'no bare id';

describe('server-sent event streams: /api/v1/alerts/stream and /api/v1/stream', () => {
  let t: AlertsTestApp;
  let base = '';
  const readers: StreamReader[] = [];
  const start = async (options: { handlerTimeoutMs?: number; stream?: Omit<StreamRouteDeps, 'alerts' | 'readings' | 'metrics'> } = {}) => {
    t = await buildAlertsTestApp(options);
    base = `${await t.app.listen({ port: 0, host: '127.0.0.1' })}/api/v1`;
  };
  const open = async (path: string, headers: Record<string, string> = {}, paused = false) => {
    const reader = new StreamReader(`${base}${path}`, headers, paused);
    readers.push(reader);
    await waitFor(() => reader.status, { ...soon, what: `the answer to ${path}` });
    return reader;
  };
  /** The server's side of the next connection, corked: what the server writes stays in its buffer until uncork(). */
  const corkNextConnection = () => {
    const socket: { value?: Socket } = {};
    t.app.server.once('connection', (accepted: Socket) => {
      accepted.cork();
      socket.value = accepted;
    });
    return socket;
  };
  const clients = async (stream: string) => (await t.metrics.sseClients.get()).values.find((v) => v.labels.stream === stream)?.value ?? 0;

  afterEach(async () => {
    for (const reader of readers.splice(0)) reader.close();
    await t.app.close();
  });

  it('sends live alert events in order, as id/event/data, with no-store headers; earlier events are not sent', async () => {
    await start();
    t.alerts.append(transition(1));
    const reader = await open('/alerts/stream');
    expect(reader.status).toBe(200);
    expect(reader.headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    expect(await clients('alerts')).toBe(1);
    t.alerts.append(transition(2, { to: 'resolved' }));
    t.alerts.append(transition(3), transition(4));
    await waitFor(() => reader.seqs.length === 3, { ...soon, what: 'three events' });
    expect(reader.seqs).toEqual([2, 3, 4]);
    expect(reader.messages[0]).toEqual({
      id: '2',
      event: 'alert',
      data: JSON.stringify({ ...transition(2, { to: 'resolved' }), seq: 2, silenced: false }),
    });

    reader.close();
    await waitFor(async () => t.alerts.listenerCount === 0 && (await clients('alerts')) === 0, { ...soon, what: 'the listener removed' });
  });

  it('starts a live stream with a bare id of the newest seq, so a reconnect before the first event misses nothing', async () => {
    await start();
    const empty = await open('/alerts/stream');
    t.alerts.append(transition(1), transition(2));
    const first = await open('/alerts/stream');
    await waitFor(() => empty.seqs.length === 2 && first.body.length > 0, { ...soon, what: 'the first bytes' });
    // An id with no data sets the client's last event id and dispatches no event (WHATWG HTML §9.2.6).
    expect(empty.body.startsWith('id: 0\n\nid: 1\nevent: alert\n')).toBe(true);
    expect(first.body).toBe('id: 2\n\n');
    expect(first.messages).toEqual([]);
    first.close();
    t.alerts.append(transition(3));
    const lastId = /^id: (\d+)\n\n/.exec(first.body)?.[1] ?? '';
    const second = await open('/alerts/stream', { 'last-event-id': lastId });
    await waitFor(() => second.seqs.length === 1, { ...soon, what: 'the event missed while away' });
    expect(second.seqs).toEqual([3]);
    // A resumed stream has ids of its own: no bare id first.
    expect(second.body.startsWith('id: 3\nevent: alert\n')).toBe(true);
  });

  it('resumes with Last-Event-ID: exactly the missed events, then live ones, even as events arrive during the backlog', async () => {
    await start({ stream: { backlogPage: 2 } });
    const first = await open('/alerts/stream');
    t.alerts.append(transition(1), transition(2), transition(3));
    await waitFor(() => first.seqs.length === 3, { ...soon, what: 'the first three events' });
    first.close();
    await waitFor(() => t.alerts.listenerCount === 0, { ...soon, what: 'the first client gone' });

    t.alerts.append(...range(4, 8).map((n) => transition(n)));
    // Each backlog page read commits one more event: it reaches the client both in a page and live.
    let extra = 9;
    t.alerts.beforeEventsAfter = () => {
      if (extra <= 12) t.alerts.append(transition(extra++));
    };
    const second = await open('/alerts/stream', { 'last-event-id': first.messages.at(-1)?.id ?? '' });
    await waitFor(() => second.seqs.length >= 9, { ...soon, what: 'the missed events' });
    t.alerts.beforeEventsAfter = undefined;
    t.alerts.append(transition(13));
    await waitFor(() => second.seqs.length >= 10, { ...soon, what: 'a live event after the backlog' });
    expect(second.seqs).toEqual(range(4, 13));
    expect(t.alerts.calls.eventsAfter).toBeGreaterThan(2);
  });

  it('takes lastEventId= or since= in the query; the header wins; since=0 sends the whole log', async () => {
    await start();
    t.alerts.append(...range(1, 5).map((n) => transition(n)));
    const byQuery = await open('/alerts/stream?lastEventId=3');
    const all = await open('/alerts/stream?since=0');
    const header = await open('/alerts/stream?since=0', { 'last-event-id': '4' });
    await waitFor(() => byQuery.seqs.length === 2 && all.seqs.length === 5 && header.seqs.length === 1, { ...soon, what: 'the backlogs' });
    expect([byQuery.seqs, all.seqs, header.seqs]).toEqual([[4, 5], range(1, 5), [5]]);
  });

  it('resends the whole log to an id past its end (the log was reset)', async () => {
    await start();
    t.alerts.append(transition(1), transition(2));
    const reader = await open('/alerts/stream', { 'last-event-id': '900' });
    await waitFor(() => reader.seqs.length === 2, { ...soon, what: 'the whole log' });
  });

  it.each([
    ['a Last-Event-ID that is no seq', '/alerts/stream', { 'last-event-id': 'abc' }, /^last-event-id: /],
    ['since=-1', '/alerts/stream?since=-1', {}, /^since: /],
    ['an unknown parameter', '/alerts/stream?from=1', {}, /unknown parameter "from"/],
    ['no device', '/stream', {}, /device/],
    ['a malformed device', '/stream?device=a.b', {}, /^device: /],
  ])('refuses %s with 400 naming it', async (_what, path, headers, message) => {
    await start();
    const reader = await open(path, headers);
    await waitFor(() => reader.ended, { ...soon, what: 'the answer' });
    expect(reader.status).toBe(400);
    expect(JSON.parse(reader.body)).toMatchObject({ code: 'API_BAD_REQUEST', message: expect.stringMatching(message) as string });
  });

  it('needs a read token', async () => {
    await start();
    const reader = await open('/alerts/stream', { authorization: '' });
    expect(reader.status).toBe(401);
  });

  it('cuts off a client that does not read, without holding up the one that does', async () => {
    await start({ stream: { maxBufferedBytes: 64 * 1024 } });
    const slow = await open('/alerts/stream', {}, true);
    const fast = await open('/alerts/stream');
    expect([slow.status, fast.status]).toEqual([200, 200]);
    const message = 'x'.repeat(900);
    // The kernel's socket buffers take some megabytes before Node has to queue: keep going until it
    // does, in bursts well under the bound (a single burst past it would cut off every client).
    for (let round = 1; t.alerts.listenerCount === 2; round++) {
      expect(round, 'the slow client was never cut off').toBeLessThan(5000);
      t.alerts.append(...range(1, 20).map((n) => transition(n, { message })));
      await waitFor(() => fast.seqs.length === round * 20, { ...soon, intervalMs: 1, what: `round ${round} at the fast client` });
    }
    expect(await clients('alerts')).toBe(1);
    expect(t.logs).toEqual([
      expect.objectContaining({ level: 40, stream: 'alerts', msg: expect.stringMatching(/^SSE client cut off/) as string }),
    ]);
    t.alerts.append(transition(0));
    const total = t.alerts.log.length;
    await waitFor(() => fast.seqs.length === total, { ...soon, what: 'the fast client to keep getting events' });
    expect(fast.seqs).toEqual(range(1, total));
  });

  it('reads a backlog only as fast as the client takes it, and cuts it off when live events pile up meanwhile', async () => {
    await start({ stream: { backlogPage: 100, maxHeldEvents: 50, maxBufferedBytes: 256 * 1024 * 1024 } });
    const message = 'x'.repeat(900);
    t.alerts.append(...range(1, 8000).map((n) => transition(n, { message })));
    await open('/alerts/stream?since=0', {}, true);
    // Live events are held while the backlog waits for the client; past 50 it is cut off.
    await waitFor(
      () => {
        t.alerts.append(transition(0));
        return t.alerts.listenerCount === 0;
      },
      { ...soon, intervalMs: 1, what: 'the stalled client cut off' },
    );
    expect(t.alerts.calls.eventsAfter).toBeLessThan(80);
    expect(await clients('alerts')).toBe(0);
  });

  it('sends a heartbeat comment and outlives a short handlerTimeout', async () => {
    await start({ handlerTimeoutMs: 100, stream: { heartbeatMs: 60 } });
    const began = Date.now();
    const reader = await open('/alerts/stream');
    await waitFor(() => reader.comments.length >= 6 && Date.now() - began > 300, {
      ...soon,
      what: 'heartbeats past three handler timeouts',
    });
    expect(reader.comments[0]).toBe(': ping');
    t.alerts.append(transition(1));
    await waitFor(() => reader.seqs.length === 1, { ...soon, what: 'an event after the handler timeout' });
    expect(reader.ended).toBe(false);
  });

  it('ends open streams when the app closes', async () => {
    await start();
    const reader = await open('/alerts/stream');
    await t.app.close();
    await waitFor(() => reader.ended, { ...soon, what: 'the stream to end' });
  });

  it('streams the live readings of one device (and one sensor), unknown devices included, after a bare id', async () => {
    await start();
    const device = await open('/stream?device=furnace-1');
    const sensor = await open('/stream?device=furnace-1&sensor=tc2');
    const unknown = await open('/stream?device=not-yet-online');
    expect([device.status, sensor.status, unknown.status]).toEqual([200, 200, 200]);
    expect(await clients('readings')).toBe(3);
    await waitFor(() => unknown.body.length > 0, { ...soon, what: 'the bare id' });
    const epoch = epochOf(unknown);
    // An id with no data sets the client's last event id and dispatches no event (WHATWG HTML §9.2.6).
    expect(unknown.body).toBe(`id: ${epoch}-0\n\n`);
    t.feed.publish('annealer', [storedReading('annealer', 1)]);
    t.feed.publish('furnace-1', [storedReading('furnace-1', 1), storedReading('furnace-1', 2, 'tc2')]);
    t.feed.publish('furnace-1', [storedReading('furnace-1', 3)]);
    await waitFor(() => device.messages.length === 3 && sensor.messages.length === 1, { ...soon, what: 'the readings' });
    expect(device.body.startsWith(`id: ${epoch}-0\n\nid: ${epoch}-2\nevent: reading\n`)).toBe(true);
    expect(device.messages.map((m) => m.id)).toEqual([`${epoch}-2`, `${epoch}-3`, `${epoch}-4`]);
    expect(device.messages[1]).toMatchObject({ id: `${epoch}-3`, event: 'reading' });
    expect(JSON.parse(device.messages[1]?.data ?? '')).toEqual(storedReading('furnace-1', 2, 'tc2'));
    expect(sensor.messages.map((m) => m.id)).toEqual([`${epoch}-3`]);
    expect(unknown.messages).toEqual([]);
    for (const reader of [device, sensor, unknown]) reader.close();
    await waitFor(async () => t.feed.listenerCount === 1 && (await clients('readings')) === 0, { ...soon, what: 'the streams gone' });
    // The feed's own subscription lasts until the app closes.
    await t.app.close();
    expect(t.feed.listenerCount).toBe(0);
  });

  it('resumes readings from the bare id of a client that left before its first reading', async () => {
    await start();
    const first = await open('/stream?device=furnace-1');
    await waitFor(() => first.body.length > 0, { ...soon, what: 'the bare id' });
    first.close();
    t.feed.publish('furnace-1', [storedReading('furnace-1', 1)]);
    const second = await open('/stream?device=furnace-1', { 'last-event-id': `${epochOf(first)}-0` });
    await waitFor(() => second.readings.length === 1, { ...soon, what: 'the reading missed while away' });
    // A resumed stream has ids of its own: no bare id, no reset.
    expect(second.body.startsWith(`id: ${epochOf(first)}-1\nevent: reading\n`)).toBe(true);
  });

  it("resumes readings with Last-Event-ID: exactly the device's missed ones, then live, even as readings arrive during the backlog", async () => {
    await start({ stream: { backlogPage: 20 } });
    const first = await open('/stream?device=furnace-1');
    t.feed.publish('furnace-1', [storedReading('furnace-1', 1)]);
    await waitFor(() => first.readings.length === 1, { ...soon, what: 'the first reading' });
    first.close();
    // Enough to fill the server's socket buffer (16 KiB) a few times over, other devices' readings between.
    for (const seq of range(2, 301)) t.feed.publish('furnace-1', [storedReading('annealer', seq), storedReading('furnace-1', seq)]);

    // The server's side of the next connection is corked: the backlog piles up there until the
    // server waits for it to drain, half-way through the backlog; readings stored then must follow it.
    const socket = corkNextConnection();
    const second = new StreamReader(`${base}/stream?device=furnace-1`, { 'last-event-id': first.messages[0]?.id ?? '' });
    readers.push(second);
    await waitFor(() => (socket.value?.writableLength ?? 0) > 16 * 1024, { ...soon, what: 'the server to wait for the client' });
    t.feed.publish('furnace-1', [storedReading('furnace-1', 302), storedReading('annealer', 302), storedReading('furnace-1', 303)]);
    socket.value?.uncork();
    await waitFor(() => second.readings.length === 302, { ...soon, what: 'the missed readings' });
    t.feed.publish('furnace-1', [storedReading('furnace-1', 304)]);
    await waitFor(() => second.readings.length === 303, { ...soon, what: 'a live reading after the backlog' });
    expect(second.readings).toEqual(range(2, 304).map((seq) => `furnace-1/${seq}`));
    expect(second.messages.map((m) => m.id)).toEqual([
      ...range(2, 301).map((seq) => `${epochOf(first)}-${2 * seq - 1}`),
      ...[602, 604, 605].map((n) => `${epochOf(first)}-${n}`),
    ]);
  });

  it('takes lastEventId= in the query for readings; the header wins', async () => {
    await start();
    const fresh = await open('/stream?device=furnace-1');
    await waitFor(() => fresh.body.length > 0, { ...soon, what: 'the bare id' });
    t.feed.publish(
      'furnace-1',
      range(1, 3).map((seq) => storedReading('furnace-1', seq)),
    );
    const epoch = epochOf(fresh);
    const byQuery = await open(`/stream?device=furnace-1&lastEventId=${epoch}-1`);
    const header = await open(`/stream?device=furnace-1&lastEventId=${epoch}-1`, { 'last-event-id': `${epoch}-2` });
    await waitFor(() => byQuery.readings.length === 2 && header.readings.length === 1, { ...soon, what: 'the backlogs' });
    expect([byQuery.readings, header.readings]).toEqual([['furnace-1/2', 'furnace-1/3'], ['furnace-1/3']]);
  });

  it.each([
    ['of another run of the backend', (_epoch: string) => 'lw0q1x2a9f3e-2', 'restarted'],
    ['in the old device/boot/seq form', (_epoch: string) => 'furnace-1/01JBOOTA/3', 'restarted'],
    ['past the newest position', (epoch: string) => `${epoch}-99`, 'restarted'],
    ['evicted from the window (by count)', (epoch: string) => `${epoch}-1`, 'expired'],
  ])('answers an id %s with event: reset, then what is held, then live', async (_what, id, reason) => {
    await start({ stream: { readingsWindow: { maxReadings: 4 } } });
    const fresh = await open('/stream?device=furnace-1');
    await waitFor(() => fresh.body.length > 0, { ...soon, what: 'the bare id' });
    const epoch = epochOf(fresh);
    t.feed.publish(
      'furnace-1',
      range(1, 6).map((seq) => storedReading(seq % 2 === 0 ? 'annealer' : 'furnace-1', seq)),
    );
    const reader = await open('/stream?device=furnace-1', { 'last-event-id': id(epoch) });
    await waitFor(() => reader.messages.length === 3, { ...soon, what: 'the reset and the readings held' });
    t.feed.publish('furnace-1', [storedReading('furnace-1', 7)]);
    await waitFor(() => reader.messages.length === 4, { ...soon, what: 'a live reading' });
    // Positions 3-6 are held: readings received up to the receivedAt of the oldest of them may be missed.
    expect(reader.messages[0]).toEqual({
      id: `${epoch}-2`,
      event: 'reset',
      data: JSON.stringify({ reason, since: storedReading('', 3).receivedAt }),
    });
    expect(reader.readings).toEqual(['furnace-1/3', 'furnace-1/5', 'furnace-1/7']);
  });

  it('resets with since=now when nothing is held any more (by age); the newest position still resumes', async () => {
    let now = 1_000_000;
    await start({ stream: { readingsWindow: { maxAgeMs: 60_000, now: () => now } } });
    const fresh = await open('/stream?device=furnace-1');
    await waitFor(() => fresh.body.length > 0, { ...soon, what: 'the bare id' });
    const epoch = epochOf(fresh);
    t.feed.publish('furnace-1', [storedReading('furnace-1', 1), storedReading('furnace-1', 2)]);
    now += 60_001;
    const old = await open('/stream?device=furnace-1', { 'last-event-id': `${epoch}-1` });
    const newest = await open('/stream?device=furnace-1', { 'last-event-id': `${epoch}-2` });
    await waitFor(() => old.messages.length === 1, { ...soon, what: 'the reset' });
    t.feed.publish('furnace-1', [storedReading('furnace-1', 3)]);
    await waitFor(() => old.readings.length === 1 && newest.readings.length === 1, { ...soon, what: 'a live reading' });
    expect(old.messages[0]).toEqual({ id: `${epoch}-2`, event: 'reset', data: JSON.stringify({ reason: 'expired', since: now }) });
    expect([old.readings, newest.readings]).toEqual([['furnace-1/3'], ['furnace-1/3']]);
  });

  it('cuts off a client whose backlog leaves the window before it has read it', async () => {
    await start({ stream: { backlogPage: 20, readingsWindow: { maxReadings: 400 } } });
    const fresh = await open('/stream?device=furnace-1');
    await waitFor(() => fresh.body.length > 0, { ...soon, what: 'the bare id' });
    for (const seq of range(1, 300)) t.feed.publish('furnace-1', [storedReading('furnace-1', seq)]);
    const socket = corkNextConnection();
    const reader = new StreamReader(`${base}/stream?device=furnace-1`, { 'last-event-id': `${epochOf(fresh)}-0` });
    readers.push(reader);
    await waitFor(() => (socket.value?.writableLength ?? 0) > 16 * 1024, { ...soon, what: 'the server to wait for the client' });
    for (const seq of range(301, 600)) t.feed.publish('furnace-1', [storedReading('furnace-1', seq)]);
    socket.value?.uncork();
    await waitFor(() => reader.ended, { ...soon, what: 'the client cut off' });
    expect(reader.readings.length).toBeLessThan(600);
    expect(t.logs).toEqual([
      expect.objectContaining({ level: 40, stream: 'readings', msg: expect.stringMatching(/^SSE client cut off/) as string }),
    ]);
  });
});
