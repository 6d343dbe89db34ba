import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type ReadingBatch, type StoredConfirmation, decodeReadingBatch, encodePayload, topics } from '../../contract/index.js';
import { type Mosquitto, startMosquitto } from '../../test/helpers/mosquitto.js';
import { describeWithProgram } from '../../test/helpers/require-program.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { ConfirmationTracker } from './confirmation-tracker.js';
import { DurableOutbox, type NewReading } from './outbox.js';
import { Publisher } from '../mqtt/publisher.js';

const log = pino({ level: 'silent' });
const DEVICE = 'confirm-test';
const BOOT = 'boot-1';

function reading(ts = Date.now()): NewReading {
  return { ts, sensor: 'tc1', value: 800, unit: 'C', quality: 'good', clock: 'synced' };
}

/**
 * A stand-in for the backend, over a real broker: it receives the agent's batches and confirms
 * what it "stores" with the contract's confirmation. `drop` makes it lose chosen batches, as a
 * broker that lost its session would.
 */
class FakeBackend {
  readonly stored = new Set<number>();
  readonly deliveries: number[] = [];
  drop: (batch: ReadingBatch) => boolean = () => false;
  confirming = true;

  constructor(readonly client: MqttClient) {
    client.on('message', (_topic, payload) => {
      const decoded = decodeReadingBatch(DEVICE, payload);
      if (!decoded.ok) return;
      const seqs = decoded.value.readings.map((r) => r.seq);
      this.deliveries.push(...seqs);
      if (this.drop(decoded.value)) return;
      seqs.forEach((seq) => this.stored.add(seq));
      if (this.confirming) this.confirm();
    });
  }

  /** Every run it holds (the real backend sends those overlapping what it just committed). */
  confirm(): void {
    const runs: Array<[number, number]> = [];
    for (const seq of [...this.stored].sort((a, b) => a - b)) {
      const run = runs[runs.length - 1];
      if (run && seq === run[1] + 1) run[1] = seq;
      else runs.push([seq, seq]);
    }
    if (runs.length === 0) return;
    const payload: StoredConfirmation = { v: 1, device: DEVICE, ts: Date.now(), boots: [{ boot: BOOT, runs }] };
    this.client.publish(topics.stored(DEVICE), encodePayload(payload), { qos: 1, retain: true });
  }
}

describeWithProgram('mosquitto', 'mosquitto', 'ConfirmationTracker: readings forgotten only once the backend confirms them', () => {
  let dir: string;
  let broker: Mosquitto;
  let outbox: DurableOutbox;
  let backend: FakeBackend;
  let agentClient: MqttClient;
  let publisher: Publisher;
  let tracker: ConfirmationTracker | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'confirm-test-'));
    broker = await startMosquitto();
    outbox = new DurableOutbox(dir);
    const backendClient = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    await backendClient.subscribeAsync(topics.readings(DEVICE), { qos: 1 });
    backend = new FakeBackend(backendClient);
  });
  afterEach(async () => {
    tracker?.stop();
    publisher.stop();
    await agentClient.endAsync(true);
    await backend.client.endAsync(true);
    outbox.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function startAgent(timeoutMs = 60_000, maxTimeoutMs = 60_000): ConfirmationTracker {
    outbox.close();
    outbox = new DurableOutbox(dir, undefined, { timeoutMs, maxTimeoutMs });
    agentClient = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 100 });
    publisher = new Publisher({
      client: agentClient,
      outbox,
      device: DEVICE,
      batchMaxReadings: 5,
      batchIntervalMs: 20,
      confirmBy: 'backend',
      log,
    });
    tracker = new ConfirmationTracker({
      client: agentClient,
      outbox,
      device: DEVICE,
      resend: () => publisher.resend(),
      log,
      checkEveryMs: 100,
    });
    return tracker;
  }
  const add = (n: number) => {
    const seqs = outbox.appendMany(
      BOOT,
      Array.from({ length: n }, () => reading()),
    );
    const last = seqs[seqs.length - 1];
    if (last !== undefined) publisher.readingsAdded(last);
  };
  const connected = () => waitFor(() => agentClient.connected, { timeoutMs: 5000, what: 'the agent to connect' });

  it('keeps each reading past its PUBACK until the confirmation covers it, then forgets it', async () => {
    backend.confirming = false;
    startAgent();
    await connected();
    add(12);
    await waitFor(() => outbox.sent.unconfirmed().count === 12, { timeoutMs: 5000, what: '12 readings sent, none confirmed' });
    expect(outbox.depth).toBe(12);
    backend.confirm();
    await waitFor(() => outbox.depth === 0, { timeoutMs: 5000, what: 'the confirmed readings forgotten' });
    expect(tracker?.stats.confirmed).toBe(12);
  });

  it('sends again a batch the backend never got, once confirmations of later readings show the hole', async () => {
    let dropped = false;
    backend.drop = (batch) => {
      // The first delivery of seq 6 to 10 is lost (a broker that lost the backend's session).
      if (dropped || batch.readings[0]?.seq !== 6) return false;
      dropped = true;
      return true;
    };
    const tracking = startAgent();
    await connected();
    for (let i = 0; i < 5; i++) add(5);
    await waitFor(() => outbox.depth === 0 && backend.stored.size === 25, { timeoutMs: 15_000, what: 'all 25 stored and forgotten' });
    expect(dropped).toBe(true);
    expect(tracking.stats.resent.hole).toBe(5);
    expect(backend.deliveries.filter((seq) => seq === 6)).toHaveLength(2);
  });

  it('sends again what stays unconfirmed past the timeout, each reading less often while nothing is confirmed', async () => {
    backend.confirming = false;
    const tracking = startAgent(500, 2000);
    await connected();
    add(3);
    // Sent at about 0, then again after 0.5 s, 1 s and 2 s of waiting: 3 rounds take ~3.5 s.
    const started = Date.now();
    // Waits for the fourth delivery itself: the tracker counts a round when it makes the readings
    // waiting again, and the publisher sends them on a later turn of the event loop (much later on
    // a busy machine), so the count alone runs ahead of what the backend has received.
    await waitFor(() => backend.deliveries.filter((seq) => seq === 1).length >= 4, {
      timeoutMs: 15_000,
      what: 'seq 1 sent three times more on timeout',
    });
    // Never sooner: without the backoff three rounds would take 1.5 s. A busy machine only makes it later.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    expect(tracking.stats.resent.hole).toBe(0);
    expect(tracking.stats.resent.timeout).toBeGreaterThanOrEqual(9);
    backend.confirming = true;
    backend.confirm();
    await waitFor(() => outbox.depth === 0, { timeoutMs: 5000, what: 'the readings confirmed at last' });
  });

  it('after a reconnect sends nothing again blindly, but what the broker lost comes out as a hole once later readings are confirmed', async () => {
    let lose = true;
    backend.drop = (batch) => lose && (batch.readings[0]?.seq ?? 0) <= 4; // the broker "lost" 1-4 with its session
    const tracking = startAgent();
    await connected();
    add(4);
    await waitFor(() => outbox.sent.unconfirmed().count === 4, { timeoutMs: 5000, what: '4 sent, lost on the way' });
    lose = false;
    agentClient.stream.destroy(); // the connection drops; MQTT.js reconnects with a clean session
    await waitFor(() => agentClient.connected && tracking.stats.subscribed, { timeoutMs: 5000, what: 'reconnected' });
    expect(outbox.sent.unconfirmed().count).toBe(4);
    // Live readings keep coming and are confirmed: 1-4, taken by the broker before them, are holes.
    const live = setInterval(() => add(1), 200);
    try {
      await waitFor(() => backend.stored.has(1) && backend.stored.has(4), { timeoutMs: 10_000, what: '1-4 sent again and stored' });
    } finally {
      clearInterval(live);
    }
    expect(tracking.stats.resent.hole).toBe(4);
    await waitFor(() => outbox.depth === 0, { timeoutMs: 5000, what: 'all confirmed' });
  });

  it('refuses a malformed confirmation, or one naming another device, and forgets nothing for it', async () => {
    backend.confirming = false;
    const tracking = startAgent();
    await connected();
    add(2);
    await waitFor(() => outbox.sent.unconfirmed().count === 2, { timeoutMs: 5000, what: '2 sent' });
    await backend.client.publishAsync(topics.stored(DEVICE), 'not json', { qos: 1 });
    const other: StoredConfirmation = { v: 1, device: 'another', ts: 1, boots: [{ boot: BOOT, runs: [[1, 2]] }] };
    await backend.client.publishAsync(topics.stored(DEVICE), encodePayload(other), { qos: 1 });
    await waitFor(() => tracking.stats.refused === 2, { timeoutMs: 5000, what: 'two refusals' });
    expect(outbox.depth).toBe(2);
  });
});
