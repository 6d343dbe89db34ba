import { EventEmitter } from 'node:events';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { CommandReply, Reading } from '../../contract/index.js';
import {
  type Decoded,
  decodeCommandReply,
  decodeDeviceStatus,
  decodeReadingBatch,
  decodeSensorsHealth,
  filters,
  formatIssues,
  parseTopic,
} from '../../contract/index.js';
import { settlesWithin } from '../../contract/deadline.js';
import { OncePerKey } from '../../contract/log-once.js';
import type { BackendConfig } from '../config.js';
import type { BackendMetrics } from '../metrics.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { ReadingStore } from '../store/reading-store.js';
import { AckQueue } from './ack-queue.js';
import { Confirmations } from './confirmations.js';
import { handleMessagesWithDeferredPuback, sendPuback } from './deferred-puback.js';
import type { IngestObserver } from './ingest-observer.js';
import { JudgeQueue } from './judge-queue.js';
import { RejectLog } from './reject-log.js';
import { retryUntilDone } from './retry.js';
import { type CommitInfo, WriteBatcher } from './write-batcher.js';

export type { IngestObserver, ReceivedReadings } from './ingest-observer.js';

export interface IngestOptions {
  /** The backend's MQTT session (mqtt-session.ts), not connected yet: ingest connects it in start() and ends it in stop(). */
  client: MqttClient;
  mqtt: BackendConfig['mqtt'];
  batching: BackendConfig['ingest'];
  store: Pick<ReadingStore, 'insertBatches' | 'storedRuns'>;
  registry: DeviceRegistry;
  metrics: BackendMetrics;
  log: Logger;
  observer?: IngestObserver;
  /**
   * Whether to subscribe to command replies (cmd/v1/{device}/{command}/reply) too. Each is decoded,
   * emitted as `commandReply` and acknowledged at once: there is nothing to commit.
   */
  commandReplies?: boolean;
}

const SUMMARY_INTERVAL_MS = 10_000;
/** How long stop() keeps committing what is pending before it lets the broker resend the rest. */
const STOP_COMMIT_MS = 2000;
/** How long stop() waits for the broker to take a clean DISCONNECT; then the socket is dropped. */
const STOP_DISCONNECT_MS = 1000;
/** A broker that has not acknowledged the subscriptions by then is not going to: reconnect. */
const SUBACK_TIMEOUT_MS = 10_000;

type IngestEvents = {
  committed: [CommitInfo];
  /** A readings batch arrived (decoded, not committed yet): the gap filler sees replays with it. */
  received: [device: string, boot: string, readings: readonly Reading[], receivedAt: number];
  stored: [device: string, boot: string, readings: readonly Reading[], receivedAt: number];
  /** A reply to a command, decoded (only with the `commandReplies` option). */
  commandReply: [device: string, command: string, reply: CommandReply];
};

/**
 * The asynchronous side of the backend: a persistent MQTT session (fixed client id, clean
 * session off, QoS 1), so the broker keeps what arrives while the backend is away. Each message
 * is acknowledged only once it is committed (or refused for good); readings are written in
 * batches across messages (write-batcher.ts), and past `maxPendingReadings` uncommitted readings
 * no more messages are taken, so a slow store makes acknowledgements wait, not memory grow.
 */
export class Ingest {
  readonly client: MqttClient;
  /** `committed`: after each write transaction (tests and benchmarks measure ingest with it). */
  readonly events = new EventEmitter<IngestEvents>();
  private readonly batcher: WriteBatcher;
  /** Gathers the readings messages of one turn for the observer: one judging transaction each turn. */
  private readonly judging: JudgeQueue | undefined;
  private readonly confirmations: Confirmations;
  /** The broker acknowledged this connection's subscriptions: messages can arrive. */
  private subscriptionsAcknowledged = false;
  /** Why command replies cannot arrive although telemetry can: the broker refused their filter. */
  private repliesRefused: string | undefined;
  private subackTimer: NodeJS.Timeout | undefined;
  private readonly failedListeners = new OncePerKey();
  private readonly acks: AckQueue;
  private readonly rejects: RejectLog;
  private readonly summaryTimer: NodeJS.Timeout;
  private storedSinceSummary = 0;
  private lastStored: { device: string; sensor: string; value: number | null; unit: string } | undefined;
  private stopping = false;
  private started = false;
  private cancelRetries: () => void = () => undefined;
  private readonly retriesCancelled = new Promise<void>((resolve) => (this.cancelRetries = resolve));

  constructor(private readonly options: IngestOptions) {
    const { mqtt: settings, metrics, log } = options;
    this.rejects = new RejectLog(metrics, log);
    this.client = options.client;
    this.judging = options.observer && new JudgeQueue(options.observer);
    this.acks = new AckQueue((messageId) => sendPuback(this.client, messageId));
    this.batcher = new WriteBatcher({
      ...options.batching,
      maxReadings: options.batching.batchMaxReadings,
      maxDelayMs: options.batching.batchMaxDelayMs,
      store: options.store,
      onCommit: (commit) => this.committed(commit),
      onCommitError: (error) => {
        metrics.listenerErrors.inc({ event: 'committed' });
        log.error({ err: error }, 'reporting a commit failed; the commit stands and its messages are acknowledged');
      },
      onFailure: (error, attempt, retryInMs) => {
        metrics.storeErrors.inc();
        log.error({ err: error, attempt, retryInMs }, 'store write failed; retrying, the broker is not acknowledged meanwhile');
      },
    });
    this.confirmations = new Confirmations({
      client: this.client,
      store: options.store,
      intervalMs: options.batching.confirmIntervalMs,
      metrics,
      log: log.child({ component: 'backend:confirmations' }),
    });
    handleMessagesWithDeferredPuback(this.client, (packet) => this.take(packet));
    this.client.on('connect', (connack) => {
      // Nagle's algorithm would hold a small write (a command, a PUBACK) up to a delayed ACK's 40 ms.
      (this.client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      this.acks.reset();
      metrics.mqttConnected.set(1);
      log.info({ url: settings.url, sessionPresent: connack.sessionPresent }, 'connected to broker');
      this.subscribe();
    });
    this.client.on('close', () => {
      // PUBACKs owed on this connection are void: the broker resends those messages on the next one.
      this.acks.reset();
      this.subscriptionsAcknowledged = false;
      this.repliesRefused = undefined;
      clearTimeout(this.subackTimer);
      metrics.mqttConnected.set(0);
    });
    this.client.on('offline', () => log.warn({ url: settings.url }, 'broker unreachable; the broker keeps this session while away'));
    this.client.on('error', (error) => log.debug({ err: error }, 'mqtt error'));
    // One line a while says ingest is alive without logging every reading.
    this.summaryTimer = setInterval(() => this.logSummary(), SUMMARY_INTERVAL_MS);
    this.summaryTimer.unref();
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Why readings cannot arrive now, or `undefined` when connected and subscribed. */
  get mqttProblem(): string | undefined {
    if (!this.client.connected) return 'not connected to the MQTT broker';
    if (!this.subscriptionsAcknowledged) return 'connected to the MQTT broker, but it has not acknowledged the subscriptions';
    return undefined;
  }

  /**
   * Why a command reply could not arrive now; `undefined` when it can (connected, reply filter
   * acknowledged, the store keeping up). Replies come in on this session, and MQTT.js hands over
   * the next message only once the batcher has room (`take`): while the store fails or is full
   * behind, a reply would wait behind readings, and a command the agent ran would be answered 504.
   */
  get commandsProblem(): string | undefined {
    return this.mqttProblem ?? this.repliesRefused ?? this.storeBehind;
  }

  private get storeBehind(): string | undefined {
    const why = 'the store is behind: command replies would wait behind readings';
    const failure = this.batcher.lastFailure;
    if (failure) return `${why} (store writes fail: ${failure.message})`;
    if (!this.batcher.hasRoom) {
      return `${why} (${this.batcher.uncommittedReadings} readings wait for the store, ingest.maxPendingReadings ${this.options.batching.maxPendingReadings})`;
    }
    return undefined;
  }

  /** Readings received but not committed yet. */
  get uncommittedReadings(): number {
    return this.batcher.uncommittedReadings;
  }

  /** Why the store refuses writes, while it does. */
  get storeFailure(): Error | undefined {
    return this.batcher.lastFailure;
  }

  /** Connects the session: messages arrive from here on, to handlers that are all in place. */
  start(): void {
    this.started = true;
    this.options.client.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.cancelRetries();
    clearInterval(this.summaryTimer);
    clearTimeout(this.subackTimer);
    await this.batcher.close(STOP_COMMIT_MS);
    await this.confirmations.close();
    if (!this.started) return; // a start that failed before connecting: no connection to end
    // A clean DISCONNECT waits for every packet in flight, a SUBSCRIBE the broker never answers
    // included: bounded, then the socket is dropped (the broker keeps the session either way).
    // Not end(true): MQTT.js ignores end() while it is already disconnecting.
    const clean = this.client.endAsync(false);
    if (!(await settlesWithin(clean, STOP_DISCONNECT_MS))) {
      this.client.stream.destroy();
      await settlesWithin(clean, STOP_DISCONNECT_MS);
    }
  }

  /**
   * Every time, not only for a new session: subscribing again makes the broker resend the retained
   * status and sensors messages [MQTT-3.8.4-3], so the registry catches up after an outage. Until
   * the SUBACK comes the backend is not ready; a broker that never sends it is reconnected to.
   */
  private subscribe(): void {
    const { log } = this.options;
    const telemetry: string[] = [filters.allReadings, filters.allStatus, filters.allSensors];
    const all = this.options.commandReplies ? [...telemetry, filters.allCommandReplies] : telemetry;
    clearTimeout(this.subackTimer);
    this.subackTimer = setTimeout(() => {
      log.error({ filters: all, timeoutMs: SUBACK_TIMEOUT_MS }, 'the broker did not acknowledge the subscriptions; reconnecting');
      this.client.stream.destroy();
    }, SUBACK_TIMEOUT_MS);
    this.client.subscribe(all, { qos: 1 }, (error, _granted, suback) => {
      clearTimeout(this.subackTimer);
      // [MQTT-3.9.3-1]: one return code per filter, in order; 0x80 is a refusal. MQTT.js reports
      // any refusal as an error, with the SUBACK beside it.
      const codes = suback?.granted ?? [];
      const refused = all.filter((_filter, i) => codes[i] === 0x80);
      if (error || refused.length > 0) {
        // Not retried in a loop: a refusal is the broker's ACL, which an operator must fix.
        log.error({ err: error, refused }, 'subscription failed: the backend receives nothing on these filters');
      }
      if (refused.includes(filters.allCommandReplies)) {
        this.repliesRefused = `the broker refused the subscription to ${filters.allCommandReplies} (the backend's ACL): no reply could arrive`;
      }
      // Readings flow without command replies; not the other way round.
      if ((error && refused.length === 0) || refused.some((filter) => telemetry.includes(filter))) return;
      this.subscriptionsAcknowledged = true;
      log.debug({ filters: all }, 'subscribed');
    });
  }

  /** Takes one message at once; MQTT.js hands over the next one when `ready` resolves. */
  private take(packet: IPublishPacket): { ready: () => Promise<void> } {
    const acknowledge = packet.qos > 0 && packet.messageId !== undefined ? this.acks.enter(packet.messageId) : () => undefined;
    this.route(packet).then(acknowledge, (error: unknown) => {
      // Only when stopping: the message stays unacknowledged and the broker resends it next time.
      this.options.log.debug({ err: error, topic: packet.topic }, 'message left unacknowledged');
    });
    this.options.metrics.uncommittedReadings.set(this.batcher.uncommittedReadings);
    return { ready: () => this.batcher.room() };
  }

  /** Resolves once the message is committed, or at once if it is refused. */
  private route(packet: IPublishPacket): Promise<void> {
    const topic = parseTopic(packet.topic);
    const { registry, metrics } = this.options;
    if (topic?.kind === 'readings') {
      metrics.batchesReceived.inc();
      const decoded = this.decoded(packet, decodeReadingBatch(topic.device, packet.payload, this.options.mqtt.maxPayloadBytes));
      if (!decoded) return Promise.resolve();
      const receivedAt = Date.now();
      this.emit('received', decoded.device, decoded.boot, decoded.readings, receivedAt);
      const stored = this.batcher.add(decoded, receivedAt).then(() => {
        const first = decoded.readings[0];
        const last = decoded.readings[decoded.readings.length - 1];
        if (first && last) {
          this.lastStored = { device: decoded.device, sensor: last.sensor, value: last.value, unit: last.unit };
          // Seq strictly increase within a batch (checked by the contract's decoder).
          this.confirmations.stored(decoded.device, decoded.boot, first.seq, last.seq);
        }
        this.emit('stored', decoded.device, decoded.boot, decoded.readings, receivedAt);
      });
      const { judging } = this;
      if (!judging) return stored;
      const judged = this.untilDone(packet.topic, () => judging.judge(decoded, receivedAt));
      return Promise.all([stored, judged]).then(() => undefined);
    }
    if (topic?.kind === 'status' || topic?.kind === 'sensors') {
      const { kind, device } = topic;
      const receivedAt = Date.now();
      const { observer } = this.options;
      let write: () => void;
      let observe: (() => void) | undefined;
      if (packet.payload.length === 0) {
        // An empty retained message clears the topic on the broker: forget what it said.
        write = () => (kind === 'status' ? registry.forgetStatus(device) : registry.forgetSensorsHealth(device));
        if (kind === 'status') observe = observer && (() => observer.statusCleared(device, receivedAt));
      } else if (kind === 'status') {
        const status = this.decoded(packet, decodeDeviceStatus(device, packet.payload, this.options.mqtt.maxPayloadBytes));
        if (!status) return Promise.resolve();
        write = () => registry.putStatus(status, receivedAt);
        observe = observer && (() => observer.status(status, receivedAt));
      } else {
        const health = this.decoded(packet, decodeSensorsHealth(device, packet.payload, this.options.mqtt.maxPayloadBytes));
        if (!health) return Promise.resolve();
        write = () => registry.putSensorsHealth(health);
        observe = observer && (() => observer.sensors(health, receivedAt));
      }
      return this.untilDone(packet.topic, write)
        .then(() => void metrics.registryUpdates.inc({ kind }))
        .then(() => (observe ? this.untilDone(packet.topic, observe) : undefined));
    }
    if (topic?.kind === 'command-reply' && this.options.commandReplies) {
      const reply = this.decoded(packet, decodeCommandReply(packet.payload, this.options.mqtt.maxPayloadBytes));
      // A listener that throws is counted and logged, and the reply is acknowledged all the same.
      if (reply) this.guarded('command-reply', () => this.events.emit('commandReply', topic.device, topic.command, reply));
      return Promise.resolve();
    }
    this.rejects.reject('unknown_topic', packet.topic, `not a topic the backend reads: ${packet.topic}`);
    return Promise.resolve();
  }

  /** Retries a synchronous write (registry, alert evaluation) until it succeeds or ingest stops. */
  private untilDone(topic: string, work: () => void | Promise<void>): Promise<void> {
    const { log } = this.options;
    return retryUntilDone(() => Promise.resolve().then(work), {
      maxDelayMs: this.options.batching.retryMaxDelayMs,
      onFailure: (error, attempt) =>
        log.error({ err: error, topic, attempt }, 'write failed; retrying, the broker is not acknowledged meanwhile'),
      giveUp: () => this.stopping,
      cancelled: this.retriesCancelled,
    });
  }

  private decoded<T>(packet: IPublishPacket, decoded: Decoded<T>): T | undefined {
    if (decoded.ok) return decoded.value;
    this.rejects.reject(decoded.cause, packet.topic, formatIssues(decoded.issues));
    return undefined;
  }

  private committed(commit: CommitInfo): void {
    const { metrics, log } = this.options;
    const { inserted, duplicates, gapsOpened, gapsClosed } = commit.result;
    metrics.readingsStored.inc(inserted);
    metrics.readingsDuplicate.inc(duplicates);
    metrics.gapsOpened.inc(gapsOpened);
    metrics.gapsClosed.inc(gapsClosed);
    metrics.commits.observe(commit.batches);
    metrics.commitSeconds.observe(commit.commitSeconds);
    for (const wait of commit.waitSeconds) metrics.ingestLatencySeconds.observe(wait);
    metrics.uncommittedReadings.set(this.batcher.uncommittedReadings);
    this.storedSinceSummary += inserted;
    if (gapsOpened > 0) log.info({ gapsOpened }, 'readings missing: a seq gap opened (see /api/v1/devices/{device}/gaps)');
    log.debug({ ...commit.result, batches: commit.batches }, 'batches committed');
    this.emit('committed', commit);
  }

  /**
   * A listener that throws must not leave its message unacknowledged: the PUBACKs go out in order,
   * so one held PUBACK would hold every later one of the connection. It is counted and logged
   * (loudly the first time for each event), and ingest goes on.
   */
  private emit<E extends keyof IngestEvents>(event: E, ...args: IngestEvents[E]): void {
    this.guarded(event, () => (this.events.emit as (event: E, ...args: IngestEvents[E]) => boolean)(event, ...args));
  }

  /** Runs a listener or a handler; one that throws is counted and logged (loudly the first time for each event). */
  private guarded(event: string, work: () => unknown): void {
    try {
      work();
    } catch (error) {
      this.options.metrics.listenerErrors.inc({ event });
      this.options.log[this.failedListeners.level(event, '', 'error')](
        { err: error, event },
        'an ingest listener threw; ingest and acknowledgements go on',
      );
    }
  }

  private logSummary(): void {
    if (this.storedSinceSummary === 0) return;
    this.options.log.info({ stored: this.storedSinceSummary, last: this.lastStored }, `stored ${this.storedSinceSummary} readings`);
    this.storedSinceSummary = 0;
  }
}
