import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeviceStatus, ReadingBatch } from '../../contract/index.js';
import { freePort } from '../../test/helpers/free-port.js';
import { type TestBroker, USERS, startTestBroker } from '../../test/helpers/test-broker.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { loadBackendConfig } from '../config.js';
import { BackendMetrics } from '../metrics.js';
import { Alerting } from './alerting.js';

const HOT = { id: 'hot', kind: 'threshold', match: { device: 'f-1', sensor: 'tc1' }, severity: 'warning', above: 100, clearAbove: 90 };

function batch(boot: string, ...readings: Array<[seq: number, value: number, replay?: boolean]>): ReadingBatch {
  const base = boot === 'b1' ? 1_000 : 2_000;
  return {
    v: 1,
    device: 'f-1',
    boot,
    readings: readings.map(([seq, value, replay = false]) => ({
      seq,
      ts: base + seq,
      sensor: 'tc1',
      value,
      unit: 'C',
      quality: 'good',
      clock: 'synced',
      replay,
    })),
  };
}

describe('alerting: what ingest hands over', () => {
  let dir: string;
  let alerting: Alerting | undefined;
  let metrics: BackendMetrics;
  const open = () => {
    const config = { ...loadBackendConfig(undefined, {}), dataDir: dir };
    const alerts = { ...config.alerts, rules: [HOT], mqtt: false };
    metrics = new BackendMetrics();
    alerting = new Alerting({ config: { ...config, alerts }, metrics, log: pino({ level: 'silent' }) });
    return alerting;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-'));
  });
  afterEach(async () => {
    await alerting?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const path = (a: Alerting) => a.eventsAfter(0, 100).map(({ event }) => `${event.from}→${event.to}`);

  it('judges a redelivered batch once, also after a restart; a replayed older reading does not undo newer ones', async () => {
    let a = open();
    a.readings(batch('b1', [1, 120]), 1);
    a.readings(batch('b1', [2, 50]), 2);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved']);
    // The broker resends both (no PUBACK reached it): nothing is judged twice.
    a.readings(batch('b1', [1, 120], [2, 50]), 3);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved']);

    await a.close();
    a = open();
    a.readings(batch('b1', [2, 50], [1, 120]), 4);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved']);
    // Seq 4 live, then the agent replays the older seq 3 it held in its outbox: new to alerting, but
    // older than seq 4, so it cannot resolve what seq 4 says.
    a.readings(batch('b1', [4, 130]), 5);
    a.readings(batch('b1', [3, 40, true]), 6);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved', 'resolved→firing']);
    expect(a.active()).toEqual([expect.objectContaining({ rule: 'hot', phase: 'firing', value: 130 })]);
    // A new boot starts its own seq series.
    a.readings(batch('b2', [1, 40]), 7);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved', 'resolved→firing', 'firing→resolved']);
  });

  it('judges the messages of one turn in one transaction, each seeing the ones before it; a retriable failure keeps none', async () => {
    const a = open();
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const judge = vi.spyOn(a.engine, 'readingsMany').mockImplementationOnce(() => {
      throw busy;
    });
    // Seq 1 comes twice in the turn (a redelivery beside the live message): judged once.
    const turn = [
      { batch: batch('b1', [1, 120]), receivedAt: 1 },
      { batch: batch('b1', [1, 120], [2, 50]), receivedAt: 2 },
      { batch: batch('b1', [3, 130]), receivedAt: 3 },
    ];
    expect(() => a.readingsMany(turn)).toThrow(busy);
    expect(path(a)).toEqual([]);
    // Ingest retries: nothing of the failed try counts as judged or seen.
    a.readingsMany(turn);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved', 'resolved→firing']);
    expect(judge).toHaveBeenCalledTimes(2);
    expect(judge.mock.calls[1]?.[0].map((message) => message.readings.map((reading) => reading.seq))).toEqual([[1], [2], [3]]);
    const groups = (await metrics.alertJudgingMessages.get()).values;
    expect(groups.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect(groups.find((v) => v.metricName?.endsWith('_sum'))?.value).toBe(3);
    a.readingsMany(turn);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved', 'resolved→firing']);
  });

  it('skips only the message of a turn that cannot be judged, as when each came alone', async () => {
    const a = open();
    const real = a.engine.readingsMany.bind(a.engine);
    vi.spyOn(a.engine, 'readingsMany').mockImplementation((messages) => {
      if (messages.some((message) => message.readings.some((reading) => reading.seq === 2))) throw new Error('a rule broke');
      real(messages);
    });
    a.readingsMany([
      { batch: batch('b1', [1, 120]), receivedAt: 1 },
      { batch: batch('b1', [2, 50]), receivedAt: 2 },
      { batch: batch('b1', [3, 80]), receivedAt: 3 },
    ]);
    expect(path(a)).toEqual(['inactive→firing', 'firing→resolved']);
    expect((await metrics.alertEvaluationFailures.get()).values).toEqual([
      expect.objectContaining({ labels: { input: 'readings' }, value: 1 }),
    ]);
  });

  it('records the waiting items of a channel no longer configured as failed, and keeps the others', async () => {
    const a = open();
    await a.close();
    alerting = undefined;
    const db = new Database(join(dir, 'alerts.sqlite'));
    const insert = db.prepare(`INSERT INTO alert_outbox (channel, item, enqueued_at, next_attempt_at) VALUES (?, '{}', 0, 0)`);
    insert.run('webhook:gone');
    insert.run('webhook:gone');
    db.close();
    open();
    const check = new Database(join(dir, 'alerts.sqlite'), { readonly: true });
    const rows = check.prepare('SELECT channel, state, last_error AS error FROM alert_outbox').all();
    check.close();
    expect(rows).toEqual([
      { channel: 'webhook:gone', state: 'failed', error: 'the channel is no longer configured' },
      { channel: 'webhook:gone', state: 'failed', error: 'the channel is no longer configured' },
    ]);
  });
});

describe('alerting: the backend cut off from the broker', () => {
  let dir: string;
  let alerting: Alerting | undefined;
  let broker: TestBroker | undefined;
  let client: MqttClient | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-cut-'));
  });
  afterEach(async () => {
    await alerting?.close();
    await client?.endAsync(true);
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const status = (state: DeviceStatus['state'], ts: number): DeviceStatus => ({ v: 1, device: 'f-1', state, ts, boot: 'b1' });
  const path = (a: Alerting) => a.eventsAfter(0, 100).map(({ event }) => `${event.from}→${event.to}`);

  it('follows its own MQTT connection: no agent is offline while the backend is not on the broker, from start-up on', async () => {
    const port = await freePort();
    // The broker is not up yet as the backend starts, as after a power cut.
    client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      ...USERS.backend,
      clientId: USERS.backend.username,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 100,
    });
    const config = { ...loadBackendConfig(undefined, {}), dataDir: dir };
    const gone = { id: 'gone', kind: 'offline', match: { device: 'f-1' }, severity: 'critical', for: 30_000 };
    const a = new Alerting({
      config: { ...config, alerts: { ...config.alerts, rules: [gone], mqtt: false } },
      mqttClient: client,
      metrics: new BackendMetrics(),
      log: pino({ level: 'silent' }),
    });
    alerting = a;
    const t0 = Date.now();
    a.status(status('online', t0 - 50), t0);
    a.status(status('offline', t0 - 100), t0);
    a.engine.tick(Date.now() + 60_000);
    expect(path(a)).toEqual(['inactive→pending']);

    broker = await startTestBroker({ settings: { 'tcp.port': String(port) } });
    await waitFor(() => client?.connected, { timeoutMs: 5000, what: 'the backend on the broker' });
    await broker.stop();
    broker = undefined;
    await waitFor(() => !client?.connected, { timeoutMs: 5000, what: 'the backend to lose the broker' });
    a.engine.tick(Date.now() + 60_000);
    expect(path(a)).toEqual(['inactive→pending']);

    broker = await startTestBroker({ settings: { 'tcp.port': String(port) } });
    await waitFor(() => client?.connected, { timeoutMs: 5000, what: 'the backend back on the broker' });
    // The will's 30 s count from when the backend could hear again, not before.
    a.engine.tick(Date.now() + 20_000);
    expect(path(a)).toEqual(['inactive→pending']);
    a.engine.tick(Date.now() + 31_000);
    expect(path(a)).toEqual(['inactive→pending', 'pending→firing']);
  });
});
