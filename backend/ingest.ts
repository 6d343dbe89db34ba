import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type RejectCause, decodeReadingBatch, filters, formatIssues, parseTopic } from '../contract/index.js';
import type { BackendMetrics } from './metrics.js';
import type { ReadingStore } from './store/reading-store.js';

export interface IngestOptions {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  maxPayloadBytes: number;
  store: ReadingStore;
  metrics: BackendMetrics;
  log: Logger;
}

/** How many distinct (cause, topic) pairs are remembered for "log once"; junk topics must not grow memory. */
const MAX_LOGGED_CAUSES = 1000;
const SUMMARY_INTERVAL_MS = 10_000;

/**
 * The asynchronous side of the backend: a persistent MQTT session (fixed client id,
 * clean session off, QoS 1) so the broker keeps what arrives while the backend is away.
 * A batch is acknowledged to the broker only after it is committed: MQTT.js sends the
 * PUBACK when `handleMessage` calls back, and takes the next message only then, which is
 * also the back-pressure when the store is slow.
 */
export class Ingest {
  readonly client: MqttClient;
  private readonly loggedCauses = new Set<string>();
  private stopping = false;
  private readonly summaryTimer: NodeJS.Timeout;
  private storedSinceSummary = 0;
  private lastStored: { device: string; sensor: string; value: number | null; unit: string } | undefined;

  constructor(private readonly options: IngestOptions) {
    const { log, metrics } = options;
    this.client = mqtt.connect(options.url, {
      clientId: options.clientId,
      clean: false,
      protocolVersion: 4,
      username: options.username,
      password: options.password,
      reconnectPeriod: 1000,
    });
    this.client.handleMessage = (packet, done) => {
      this.handle(packet).then(
        () => done(),
        (error: unknown) => done(error as Error),
      );
    };
    this.client.on('connect', (connack) => {
      metrics.mqttConnected.set(1);
      log.info({ url: options.url, sessionPresent: connack.sessionPresent }, 'connected to broker');
      if (!connack.sessionPresent) {
        this.client.subscribe(filters.allReadings, { qos: 1 }, (error) => {
          if (error) log.error({ err: error }, 'subscription to readings failed');
        });
      }
    });
    this.client.on('offline', () => {
      metrics.mqttConnected.set(0);
      log.warn({ url: options.url }, 'broker unreachable; the broker keeps this session while away');
    });
    this.client.on('error', (error) => log.debug({ err: error }, 'mqtt error'));
    // One line a while says ingest is alive without logging every reading.
    this.summaryTimer = setInterval(() => this.logSummary(), SUMMARY_INTERVAL_MS);
    this.summaryTimer.unref();
  }

  private logSummary(): void {
    if (this.storedSinceSummary === 0) return;
    this.options.log.info({ stored: this.storedSinceSummary, last: this.lastStored }, `stored ${this.storedSinceSummary} readings`);
    this.storedSinceSummary = 0;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.summaryTimer);
    await this.client.endAsync();
  }

  private async handle(packet: IPublishPacket): Promise<void> {
    const { metrics, store } = this.options;
    const topic = parseTopic(packet.topic);
    if (topic?.kind !== 'readings') {
      this.reject('unknown_topic', packet.topic, `no readings topic: ${packet.topic}`);
      return;
    }
    metrics.batchesReceived.inc();
    const decoded = decodeReadingBatch(topic.device, packet.payload, this.options.maxPayloadBytes);
    if (!decoded.ok) {
      this.reject(decoded.cause, packet.topic, formatIssues(decoded.issues));
      return;
    }
    // A store failure is retried, never acknowledged: the broker keeps the batch until it is committed.
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await store.insertBatch(decoded.value, Date.now());
        metrics.readingsStored.inc(result.inserted);
        metrics.readingsDuplicate.inc(result.duplicates);
        this.storedSinceSummary += result.inserted;
        const last = decoded.value.readings[decoded.value.readings.length - 1];
        if (last) this.lastStored = { device: topic.device, sensor: last.sensor, value: last.value, unit: last.unit };
        this.options.log.debug({ device: topic.device, ...result }, 'batch stored');
        return;
      } catch (error) {
        metrics.storeErrors.inc();
        if (this.stopping) throw error;
        const delay = Math.min(100 * 2 ** attempt, 5000);
        this.options.log.error({ err: error, device: topic.device, attempt, retryInMs: delay }, 'store write failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Counts a refused payload; logs it once per (cause, topic) at warn, then at debug. */
  private reject(cause: RejectCause | 'unknown_topic', topic: string, detail: string): void {
    this.options.metrics.payloadsRejected.inc({ cause });
    const key = `${cause}\u0000${topic}`;
    const first = !this.loggedCauses.has(key) && this.loggedCauses.size < MAX_LOGGED_CAUSES;
    if (first) this.loggedCauses.add(key);
    this.options.log[first ? 'warn' : 'debug']({ cause, topic, detail: detail.slice(0, 500) }, 'payload refused');
  }
}
