import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CONTRACT_VERSION, type ReadingBatch, encodePayload, topics } from '../contract/index.js';
import type { DurableOutbox, OutboxEntry } from './outbox.js';

export interface PublisherOptions {
  client: MqttClient;
  outbox: DurableOutbox;
  device: string;
  batchMaxReadings: number;
  batchIntervalMs: number;
  log: Logger;
  /** How long a batch may wait for its PUBACK before it is offered again. */
  ackTimeoutMs?: number;
}

export interface PublisherStats {
  batchesSent: number;
  readingsSent: number;
  publishErrors: number;
}

/**
 * Moves readings from the outbox to the broker, oldest first, one QoS 1 batch in flight
 * at a time, so order is kept and a reading leaves the outbox only after its PUBACK.
 * A partial batch waits at most `batchIntervalMs`; a full one goes at once.
 */
export class Publisher {
  readonly stats: PublisherStats = { batchesSent: 0, readingsSent: 0, publishErrors: 0 };
  private inFlight: { token: number; timer: NodeJS.Timeout } | undefined;
  private nextToken = 1;
  private flushTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: PublisherOptions) {
    options.client.on('connect', () => this.flush());
  }

  /** A reading was committed: send now if a batch is full, else within the batch interval. */
  readingAdded(): void {
    if (this.options.outbox.depth >= this.options.batchMaxReadings) this.flush();
    else this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), this.options.batchIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.inFlight?.timer);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const { client, outbox, device, log } = this.options;
    if (this.stopped || this.inFlight || !client.connected) return;
    const entries = outbox.peek(this.options.batchMaxReadings);
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (!first || !last) return;
    const token = this.nextToken++;
    const timer = setTimeout(() => {
      log.warn({ firstSeq: first.seq, lastSeq: last.seq }, 'no PUBACK in time; the batch will be offered again');
      this.settle(token);
      this.scheduleFlush();
    }, this.options.ackTimeoutMs ?? 30_000);
    this.inFlight = { token, timer };
    const payload = encodePayload(toBatch(device, first.boot, entries));
    client.publish(topics.readings(device), payload, { qos: 1 }, (error) => {
      if (this.inFlight?.token !== token) return; // timed out already; a late PUBACK changes nothing
      if (error) {
        this.stats.publishErrors++;
        log.warn({ err: error, firstSeq: first.seq }, 'publish failed; the batch stays in the outbox');
        this.settle(token);
        this.scheduleFlush();
        return;
      }
      outbox.acknowledge(last.seq);
      this.stats.batchesSent++;
      this.stats.readingsSent += entries.length;
      log.debug({ firstSeq: first.seq, lastSeq: last.seq, readings: entries.length }, 'batch acknowledged');
      this.settle(token);
      // More waiting (a backlog after an outage): keep going without waiting for the timer.
      if (outbox.depth > 0) setImmediate(() => this.flush());
    });
  }

  private settle(token: number): void {
    if (this.inFlight?.token !== token) return;
    clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
  }
}

function toBatch(device: string, boot: string, entries: OutboxEntry[]): ReadingBatch {
  return {
    v: CONTRACT_VERSION,
    device,
    boot,
    readings: entries.map(({ seq, ts, sensor, value, unit, quality, clock, replay }) => ({
      seq,
      ts,
      sensor,
      value,
      unit,
      quality,
      clock,
      replay,
    })),
  };
}
