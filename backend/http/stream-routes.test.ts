import { type ClientRequest, type IncomingHttpHeaders, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.js';
import type { StoredReading } from '../store/reading-store.js';
import { type AlertsTestApp, READ_TOKEN, buildAlertsTestApp, transition } from '../../test/helpers/fake-alerts-service.js';
import type { StreamRouteDeps } from './stream-routes.js';

interface Message {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** Reads an event stream as it arrives: messages, comments, and whether it ended. */
class StreamReader {
  status: number | undefined;
  headers: IncomingHttpHeaders = {};
  body = '';
  readonly messages: Message[] = [];
  readonly comments: string[] = [];
  ended = false;
  private readonly req: ClientRequest;

  /** `paused`: never reads, like a client on a stalled link. */
  constructor(url: string, headers: Record<string, string> = {}, paused = false) {
    this.req = request(url, { headers: { authorization: `Bearer ${READ_TOKEN}`, ...headers }, agent: false }, (res) => {
      this.status = res.statusCode;
      this.headers = res.headers;
      res.on('close', () => (this.ended = true));
      if (paused) return void res.pause();
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        this.body += chunk;
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      });
    });
    this.req.on('error', () => (this.ended = true));
    this.req.end();
  }

  get seqs(): number[] {
    return this.messages.filter((m) => m.event === 'alert').map((m) => (JSON.parse(m.data) as { seq: number }).seq);
  }

  close(): void {
    this.req.destroy();
  }

  private parse(block: string): void {
    const message: Message = { id: undefined, event: undefined, data: '' };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line);
      else if (line.startsWith('id: ')) message.id = line.slice(4);
      else if (line.startsWith('event: ')) message.event = line.slice(7);
      else if (line.startsWith('data: ')) message.data += line.slice(6);
    }
    if (message.event !== undefined) this.messages.push(message);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const soon = { timeoutMs: 5000 };

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
    expect(reader.headers).toMatchObject({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    expect(await clients('alerts')).toBe(1);
    t.alerts.append(transition(2, { to: 'resolved' }));
    t.alerts.append(transition(3), transition(4));
    await waitFor(() => reader.seqs.length === 3, { ...soon, what: 'three events' });
    expect(reader.seqs).toEqual([2, 3, 4]);
    expect(reader.messages[0]).toEqual({ id: '2', event: 'alert', data: JSON.stringify({ ...transition(2, { to: 'resolved' }), seq: 2, silenced: false }) });

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
    expect(t.logs).toEqual([expect.objectContaining({ level: 40, stream: 'alerts', msg: expect.stringMatching(/^SSE client cut off/) as string })]);
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
    await waitFor(() => reader.comments.length >= 6 && Date.now() - began > 300, { ...soon, what: 'heartbeats past three handler timeouts' });
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

  it('streams the live readings of one device (and one sensor), unknown devices included', async () => {
    await start();
    const stored = (device: string, seq: number, sensor = 'tc1'): StoredReading => ({
      device,
      boot: '01JBOOTA',
      seq,
      sensor,
      ts: 1_764_340_000_000 + seq,
      value: 800 + seq,
      unit: 'C',
      quality: 'good',
      clock: 'synced',
      replay: false,
      receivedAt: 1_764_340_000_500 + seq,
    });
    const device = await open('/stream?device=furnace-1');
    const sensor = await open('/stream?device=furnace-1&sensor=tc2');
    const unknown = await open('/stream?device=not-yet-online');
    expect([device.status, sensor.status, unknown.status]).toEqual([200, 200, 200]);
    expect(await clients('readings')).toBe(3);
    t.feed.publish('annealer', [stored('annealer', 1)]);
    t.feed.publish('furnace-1', [stored('furnace-1', 1), stored('furnace-1', 2, 'tc2')]);
    t.feed.publish('furnace-1', [stored('furnace-1', 3)]);
    await waitFor(() => device.messages.length === 3 && sensor.messages.length === 1, { ...soon, what: 'the readings' });
    expect(device.messages.map((m) => m.id)).toEqual(['furnace-1/01JBOOTA/1', 'furnace-1/01JBOOTA/2', 'furnace-1/01JBOOTA/3']);
    expect(device.messages[1]).toEqual({ id: 'furnace-1/01JBOOTA/2', event: 'reading', data: JSON.stringify(stored('furnace-1', 2, 'tc2')) });
    expect(sensor.messages.map((m) => m.id)).toEqual(['furnace-1/01JBOOTA/2']);
    expect(unknown.messages).toEqual([]);
    for (const reader of [device, sensor, unknown]) reader.close();
    await waitFor(async () => t.feed.listenerCount === 0 && (await clients('readings')) === 0, { ...soon, what: 'the listeners removed' });
  });
});
