import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertState, AlertTransition } from '../../../contract/index.js';
import { MqttAlertRecorder, WebhookReceiver } from '../../../test/helpers/alert-channels.js';
import { CapturedLog, type TestBroker, USERS, connectAs, startTestBroker } from '../../../test/helpers/test-broker.js';
import { waitFor } from '../../../test/helpers/wait-for.js';
import { BackendMetrics } from '../../metrics.js';
import { openAlertDb } from '../store/alert-db.js';
import type { ChannelItem } from '../types.js';
import { AlertDelivery } from './alert-delivery.js';
import { ChannelOutbox } from './outbox.js';

function transition(n: number): ChannelItem {
  const to = n % 2 === 1 ? 'firing' : 'resolved';
  const from = to === 'firing' ? 'inactive' : 'firing';
  const event: AlertTransition = {
    v: 1,
    id: `ev-${n}`,
    device: 'oven-2',
    rule: 'hot',
    from,
    to,
    ts: 1_764_000_000_000 + n,
    severity: 'info',
    message: `event ${n}`,
  };
  const state: AlertState = {
    v: 1,
    device: 'oven-2',
    rule: 'hot',
    state: to,
    severity: 'info',
    since: event.ts,
    eventId: event.id,
    message: event.message,
  };
  return { kind: 'transition', seq: n, event, silenced: false, state };
}

async function sample(metrics: BackendMetrics, channel: string, outcome: string): Promise<number> {
  const values = (await metrics.alertDeliveries.get()).values;
  return values.find((v) => v.labels.channel === channel && v.labels.outcome === outcome)?.value ?? 0;
}

describe('AlertDelivery', () => {
  let broker: TestBroker;
  let publisher: MqttClient;
  let dir: string;
  let db: Database.Database;
  const closers: Array<() => Promise<unknown>> = [];
  beforeEach(async () => {
    broker = await startTestBroker();
    publisher = await connectAs(broker.url, USERS.backend);
    dir = mkdtempSync(join(tmpdir(), 'alert-delivery-'));
    db = openAlertDb(dir);
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await publisher.endAsync(true);
    await broker.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a webhook that never answers ends its rows failed after retryForMs, and delays neither the other webhook nor MQTT', async () => {
    const good = await new WebhookReceiver().start();
    const stuck = await new WebhookReceiver().start();
    stuck.hang = true;
    closers.push(
      () => good.stop(),
      () => stuck.stop(),
    );
    const live = await MqttAlertRecorder.connect(broker.url, { ...USERS.viewer, clientId: 'viewer-delivery' });
    closers.push(() => live.close());
    const log = new CapturedLog();
    const metrics = new BackendMetrics();
    const delivery = AlertDelivery.create({
      db,
      alerts: {
        mqtt: true,
        retryMinMs: 20,
        retryMaxMs: 200,
        webhooks: [
          { name: 'good', url: good.url, transitions: ['firing', 'resolved'], timeoutMs: 2000, retryForMs: 60_000 },
          // Each POST hangs for timeoutMs, already past the deadline: one attempt per event, then failed.
          { name: 'stuck', url: stuck.url, transitions: ['firing'], timeoutMs: 1500, retryForMs: 1000 },
        ],
      },
      mqttClient: publisher,
      metrics,
      log: log.logger,
    });
    closers.push(() => delivery.stop());
    expect(delivery.channels.map((channel) => channel.name)).toEqual(['mqtt', 'webhook:good', 'webhook:stuck']);
    delivery.start();

    // What the engine does: one transaction for the items, each to the channels that want it, then wake.
    const insert = db.prepare(
      `INSERT INTO alert_outbox (channel, item, state, enqueued_at, next_attempt_at) VALUES (?, ?, 'pending', ?, ?)`,
    );
    const woken = new Set<string>();
    db.transaction(() => {
      for (const item of [1, 2, 3].map(transition)) {
        for (const channel of delivery.channels.filter((c) => c.wants(item))) {
          insert.run(channel.name, JSON.stringify(item), Date.now(), Date.now());
          woken.add(channel.name);
        }
      }
    })();
    delivery.wake(woken);

    const stuckOutbox = new ChannelOutbox(db, 'webhook:stuck');
    await waitFor(() => good.received.length === 3 && live.events.length === 3, { timeoutMs: 5000, what: 'the good webhook and MQTT' });
    // All of it while the stuck webhook's first POST still hangs.
    expect(stuck.received).toHaveLength(0);
    expect(stuckOutbox.head()).toMatchObject({ attempts: 0, item: transition(1) });
    expect(good.received.map((w) => w.event.id)).toEqual(['ev-1', 'ev-2', 'ev-3']);
    expect(live.events.map((e) => e.id)).toEqual(['ev-1', 'ev-2', 'ev-3']);

    await waitFor(() => stuckOutbox.pendingCount() === 0, { timeoutMs: 10_000, what: 'the stuck webhook to give up' });
    expect(stuckOutbox.failedRows().map((row) => [row.item?.kind === 'transition' && row.item.event.id, row.lastError])).toEqual([
      ['ev-3', expect.stringMatching(/ALERT_DELIVERY_HTTP_TIMEOUT/)],
      ['ev-1', expect.stringMatching(/ALERT_DELIVERY_HTTP_TIMEOUT/)],
    ]);
    expect(await sample(metrics, 'webhook:stuck', 'failed')).toBe(2);
    expect(await sample(metrics, 'webhook:good', 'delivered')).toBe(3);
    expect(await sample(metrics, 'mqtt', 'delivered')).toBe(3);
    const pending = (await metrics.alertOutboxPending.get()).values;
    expect(pending.map((v) => [v.labels.channel, v.value]).sort()).toEqual([
      ['mqtt', 0],
      ['webhook:good', 0],
      ['webhook:stuck', 0],
    ]);
    expect(log.find(/failed for good/, { channel: 'webhook:stuck', eventId: 'ev-1' })).toHaveLength(1);
  });
});
