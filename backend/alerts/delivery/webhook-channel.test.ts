import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertState, AlertTransition } from '../../../contract/index.js';
import { freePort } from '../../../test/helpers/free-port.js';
import { CapturedLog } from '../../../test/helpers/test-broker.js';
import { waitFor } from '../../../test/helpers/wait-for.js';
import { BackendMetrics } from '../../metrics.js';
import { openAlertDb } from '../store/alert-db.js';
import type { ChannelItem } from '../types.js';
import { Dispatcher } from './dispatcher.js';
import { DeliveryError } from './errors.js';
import { ChannelOutbox } from './outbox.js';
import { sign, verify } from './signature.js';
import { WebhookChannel, type WebhookSettings } from './webhook-channel.js';

const SECRET = 'a-shared-secret-of-32-characters';

function transition(n: number, to: AlertTransition['to'] = n % 2 === 1 ? 'firing' : 'resolved'): ChannelItem {
  const from = to === 'firing' ? 'inactive' : 'firing';
  const event: AlertTransition = {
    ...{ v: 1, id: `ev-${n}`, device: 'oven-1', rule: 'hot', sensor: 'tc1', from, to },
    ...{ ts: 1_764_000_000_000 + n, severity: 'warning', value: 100 + n, message: `event ${n}` },
  };
  const state: AlertState | undefined =
    to === 'firing' || to === 'resolved'
      ? {
          v: 1,
          device: 'oven-1',
          rule: 'hot',
          sensor: 'tc1',
          state: to,
          severity: 'warning',
          since: event.ts,
          eventId: event.id,
          message: event.message,
        }
      : undefined;
  return { kind: 'transition', seq: n, event, silenced: false, state };
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver; `status` decides each answer (by arrival count), `undefined` means never answer. */
class Receiver {
  readonly received: Received[] = [];
  status: (n: number) => number | undefined = () => 204;
  private server: Server | undefined;
  constructor(public port = 0) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}/hook?token=secret-in-query`;
  }
  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        const status = this.status(this.received.length);
        if (status !== undefined) res.writeHead(status).end('ignored body');
      });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    server?.closeAllConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  ids(): string[] {
    return this.received.map((r) => (JSON.parse(r.body) as { event: AlertTransition }).event.id);
  }
}

describe('WebhookChannel', () => {
  let dir: string;
  let db: Database.Database;
  let log: CapturedLog;
  const closers: Array<() => Promise<unknown>> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alert-webhook-'));
    db = openAlertDb(dir);
    log = new CapturedLog();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function receiver(port = 0): Promise<Receiver> {
    const made = new Receiver(port);
    closers.push(() => made.stop());
    return port === 0 ? made.start() : made;
  }

  function settings(url: string, extra: Partial<WebhookSettings> = {}): WebhookSettings {
    return { name: 'ops', url, secret: SECRET, transitions: ['firing', 'resolved'], timeoutMs: 2000, retryForMs: 60_000, ...extra };
  }

  /** A dispatcher on a webhook with the items enqueued the way the engine does. */
  function deliverTo(hook: WebhookSettings, items: ChannelItem[]): ChannelOutbox {
    const channel = new WebhookChannel(hook, log.logger);
    const outbox = new ChannelOutbox(db, channel.name);
    const insert = db.prepare(
      `INSERT INTO alert_outbox (channel, item, state, enqueued_at, next_attempt_at) VALUES (?, ?, 'pending', ?, ?)`,
    );
    for (const item of items) insert.run(channel.name, JSON.stringify(item), Date.now(), Date.now());
    const metrics = new BackendMetrics();
    const dispatcher = new Dispatcher({
      outbox,
      channel,
      retryMinMs: 20,
      retryMaxMs: 200,
      retryForMs: hook.retryForMs,
      metrics,
      log: log.logger,
    });
    closers.push(() => dispatcher.stop());
    dispatcher.start();
    return outbox;
  }

  it('posts N events in order, signed, with the event id and timestamp headers', async () => {
    const rx = await receiver();
    const items = Array.from({ length: 20 }, (_, i) => transition(i + 1));
    const outbox = deliverTo(settings(rx.url), items);
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 10_000, what: 'all 20 delivered' });
    expect(rx.ids()).toEqual(items.map((item) => (item.kind === 'transition' ? item.event.id : '')));
    const first = rx.received[0]!;
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers['x-furnace-event-id']).toBe('ev-1');
    expect(JSON.parse(first.body)).toEqual({
      v: 1,
      event: (items[0] as { event: unknown }).event,
      state: (items[0] as { state: unknown }).state,
    });
    for (const { headers, body } of rx.received) {
      const timestamp = String(headers['x-furnace-timestamp']);
      expect(Math.abs(Date.now() - Number(timestamp))).toBeLessThan(60_000);
      expect(verify(SECRET, timestamp, body, String(headers['x-furnace-signature']), { maxAgeMs: 60_000 })).toBe(true);
      expect(verify('another-secret-of-32-characters!', timestamp, body, String(headers['x-furnace-signature']))).toBe(false);
      expect(verify(SECRET, Number(timestamp) + 1, body, String(headers['x-furnace-signature']))).toBe(false);
    }
  });

  it('signs `${timestamp}.${body}` with HMAC-SHA256; verify refuses tampering, other lengths and old timestamps', () => {
    const signature = sign(SECRET, 1700000000000, '{"a":1}');
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verify(SECRET, '1700000000000', '{"a":1}', signature)).toBe(true);
    expect(verify(SECRET, 1700000000000, '{"a":2}', signature)).toBe(false);
    expect(verify(SECRET, 1700000000000, '{"a":1}', 'sha256=00')).toBe(false);
    expect(verify(SECRET, 1700000000000, '{"a":1}', undefined)).toBe(false);
    expect(verify(SECRET, 1700000000000, '{"a":1}', signature, { maxAgeMs: 300_000, now: 1700000000000 + 300_001 })).toBe(false);
  });

  it('sends no signature header without a secret, and takes only the configured, unsilenced transitions', async () => {
    const rx = await receiver();
    const channel = new WebhookChannel(settings(rx.url, { secret: undefined, transitions: ['firing'] }), log.logger);
    expect(channel.name).toBe('webhook:ops');
    expect(channel.wants(transition(1, 'firing'))).toBe(true);
    expect(channel.wants(transition(2, 'resolved'))).toBe(false);
    expect(channel.wants({ ...transition(3, 'firing'), silenced: true } as ChannelItem)).toBe(false);
    expect(channel.wants({ kind: 'forget', device: 'oven-1', rule: 'hot' })).toBe(false);
    await channel.deliver(transition(1, 'firing'));
    expect(rx.received[0]?.headers['x-furnace-signature']).toBeUndefined();
  });

  it('fails an attempt on a non-2xx answer, no answer within timeoutMs, or a refused connection, naming the url but not its query', async () => {
    const rx = await receiver();
    const channel = new WebhookChannel(settings(rx.url, { timeoutMs: 200 }), log.logger);
    rx.status = () => 404;
    const notFound = await channel.deliver(transition(1)).catch((error: unknown) => error);
    expect(notFound).toBeInstanceOf(DeliveryError);
    expect(notFound).toMatchObject({ code: 'ALERT_DELIVERY_HTTP_STATUS', message: `POST http://127.0.0.1:${rx.port}/hook answered 404` });
    rx.status = () => undefined;
    await expect(channel.deliver(transition(1))).rejects.toMatchObject({ code: 'ALERT_DELIVERY_HTTP_TIMEOUT' });
    const closedPort = await freePort();
    const refused = new WebhookChannel(settings(`http://127.0.0.1:${closedPort}/x`), log.logger);
    await expect(refused.deliver(transition(1))).rejects.toMatchObject({
      code: 'ALERT_DELIVERY_HTTP_FAILED',
      message: expect.stringMatching(/ECONNREFUSED/) as unknown,
    });
  });

  it('retries a 500 until the receiver answers 200', async () => {
    const rx = await receiver();
    rx.status = (n) => (n <= 3 ? 500 : 200);
    const outbox = deliverTo(settings(rx.url), [transition(1), transition(2)]);
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 10_000, what: 'both delivered' });
    expect(rx.ids()).toEqual(['ev-1', 'ev-1', 'ev-1', 'ev-1', 'ev-2']);
  });

  it('a receiver that is down, then back, gets every event exactly once, in order', async () => {
    const rx = await receiver(await freePort()); // not listening yet: connections are refused
    const items = Array.from({ length: 5 }, (_, i) => transition(i + 1));
    const outbox = deliverTo(settings(rx.url), items);
    await waitFor(() => (outbox.head()?.attempts ?? 0) >= 3, { timeoutMs: 10_000, what: 'three refused attempts' });
    await rx.start();
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 10_000, what: 'the backlog delivered' });
    expect(rx.ids()).toEqual(['ev-1', 'ev-2', 'ev-3', 'ev-4', 'ev-5']);
    expect(log.find(/will retry/, { level: 40, eventId: 'ev-1' })[0]?.error).toMatch(/ECONNREFUSED/);
  });

  it('records an event as failed once retryForMs has passed, and sends the next', async () => {
    const rx = await receiver();
    rx.status = (n) => (rx.ids()[n - 1] === 'ev-1' ? 503 : 204);
    const outbox = deliverTo(settings(rx.url, { retryForMs: 300 }), [transition(1), transition(2)]);
    await waitFor(() => outbox.pendingCount() === 0, { timeoutMs: 10_000, what: 'the outbox to settle' });
    expect(outbox.failedRows()).toEqual([expect.objectContaining({ lastError: expect.stringMatching(/answered 503/) as unknown })]);
    expect(rx.ids().at(-1)).toBe('ev-2');
    expect(log.find(/failed for good/, { eventId: 'ev-1', channel: 'webhook:ops' })).toHaveLength(1);
  });
});
