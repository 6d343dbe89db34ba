import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type ReadingBatch, decodeReadingBatch, topics } from '../../contract/index.js';
import { type Mosquitto, startMosquitto } from '../../test/helpers/mosquitto.js';
import { describeWithProgram } from '../../test/helpers/require-program.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { DurableOutbox, type NewReading } from '../outbox/outbox.js';
import { Publisher, type PublisherOptions } from './publisher.js';

const log = pino({ level: 'silent' });
const DEVICE = 'pub-test';

function reading(ts: number): NewReading {
  return { ts, sensor: 'tc1', value: 800, unit: 'C', quality: 'good', clock: 'synced' };
}

describeWithProgram('mosquitto', 'mosquitto', 'Publisher: live and replay lanes through a real broker', () => {
  let dir: string;
  let broker: Mosquitto;
  let outbox: DurableOutbox;
  const received: Array<{ at: number; batch: ReadingBatch }> = [];
  const clients: MqttClient[] = [];
  let publisher: Publisher | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'publisher-test-'));
    broker = await startMosquitto();
    outbox = new DurableOutbox(dir);
    received.length = 0;
    const subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    clients.push(subscriber);
    subscriber.on('message', (_topic, payload) => {
      const decoded = decodeReadingBatch(DEVICE, payload);
      if (decoded.ok) received.push({ at: Date.now(), batch: decoded.value });
    });
    await subscriber.subscribeAsync(topics.readings(DEVICE), { qos: 1 });
  });
  afterEach(async () => {
    publisher?.stop();
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
    outbox.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(options: Partial<PublisherOptions>): MqttClient {
    const client = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(client);
    publisher = new Publisher({ client, outbox, device: DEVICE, batchMaxReadings: 10, batchIntervalMs: 50, log, ...options });
    return client;
  }
  const readings = (replay: boolean) => received.flatMap(({ batch }) => batch.readings.filter((r) => r.replay === replay));

  it('sends the backlog oldest first at the bounded rate, marked replay, while live readings keep flowing', async () => {
    const t0 = Date.now();
    outbox.appendMany(
      'boot-old',
      Array.from({ length: 300 }, (_, i) => reading(t0 - 300_000 + i)),
    );
    const client = start({ replay: { maxReadingsPerSecond: 400, batchMaxReadings: 50 } });
    await waitFor(() => client.connected, { timeoutMs: 5000, what: 'the publisher to connect' });
    const live = setInterval(() => {
      const [seq] = outbox.appendMany('boot-new', [reading(Date.now())]);
      if (seq !== undefined) publisher?.readingsAdded(seq);
    }, 20);
    try {
      await waitFor(() => readings(true).length >= 300, { timeoutMs: 15_000, what: 'the whole backlog' });
    } finally {
      clearInterval(live);
    }
    await waitFor(() => outbox.depth === 0, { timeoutMs: 5000, what: 'the live readings acknowledged' });

    const replayed = readings(true);
    expect(replayed.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(received.filter(({ batch }) => batch.boot === 'boot-old').every(({ batch }) => batch.readings.length <= 50)).toBe(true);
    const liveSeqs = readings(false).map((r) => r.seq);
    expect(liveSeqs.length).toBeGreaterThan(10);
    expect(liveSeqs).toEqual([...liveSeqs].sort((a, b) => a - b));
    expect(liveSeqs[0]).toBe(301);
    // 6 backlog batches of 50 at 400 readings/s: the last goes 5 × 125 ms after the first.
    const replayBatches = received.filter(({ batch }) => batch.boot === 'boot-old');
    expect((replayBatches.at(-1)?.at ?? 0) - (replayBatches[0]?.at ?? 0)).toBeGreaterThanOrEqual(500);
    // ... and live batches went out in between, not after it.
    const firstLive = received.find(({ batch }) => batch.boot === 'boot-new');
    expect(firstLive?.at).toBeLessThan(replayBatches.at(-1)?.at ?? 0);
  });

  it('drains without the rate limit when asked (a stopping agent), and resolves at once without a broker', async () => {
    outbox.appendMany(
      'boot-old',
      Array.from({ length: 100 }, (_, i) => reading(1000 + i)),
    );
    const client = start({ replay: { maxReadingsPerSecond: 10, batchMaxReadings: 20 } });
    await waitFor(() => client.connected, { timeoutMs: 5000, what: 'the publisher to connect' });
    const started = Date.now();
    await publisher?.drain();
    expect(Date.now() - started).toBeLessThan(3000); // 10 s at the replay rate
    expect(outbox.depth).toBe(0);

    await client.endAsync();
    outbox.appendMany('boot-old', [reading(5000)]);
    await publisher?.drain(); // not connected: nothing to wait for
    expect(outbox.depth).toBe(1);
  });
});
