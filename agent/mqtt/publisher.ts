import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { BatchLane, type LaneName } from './batch-lane.js';
import type { DurableOutbox, OutboxEntry } from '../outbox/outbox.js';

export interface PublisherOptions {
  client: MqttClient;
  outbox: DurableOutbox;
  device: string;
  batchMaxReadings: number;
  batchIntervalMs: number;
  log: Logger;
  /** How long a batch may wait for its PUBACK before it is offered again. */
  ackTimeoutMs?: number;
  /** Who confirms a reading so it can be forgotten (default broker: the Publisher alone is hop by hop). */
  confirmBy?: 'backend' | 'broker';
  replay?: {
    /** Backlog readings per second at most (0: as fast as the broker acknowledges). */
    maxReadingsPerSecond: number;
    batchMaxReadings: number;
  };
}

export interface PublisherStats {
  batchesSent: number;
  readingsSent: number;
  /** Of readingsSent, those sent as the backlog of an outage (`replay: true`). */
  readingsReplayed: number;
}

const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * Moves readings from the outbox to the broker in two lanes, each with one QoS 1 batch in
 * flight and each in seq order:
 * - the **live** lane: readings taken since the current connection came up, batched by count
 *   and by time (a partial batch waits at most `batchIntervalMs`);
 * - the **replay** lane: the backlog, everything older (taken during the outage, or left by a
 *   previous run) and whatever was made waiting again because the backend did not confirm it,
 *   oldest first, in larger batches, at a bounded rate, marked `replay: true`.
 * So new readings keep flowing while a long backlog drains, and the backlog cannot flood the
 * broker and the backend after an outage. A reading keeps its seq and boot whichever lane takes
 * it, so a reading offered twice (a lost PUBACK) is a duplicate the backend drops.
 */
export class Publisher {
  readonly stats: PublisherStats = { batchesSent: 0, readingsSent: 0, readingsReplayed: 0 };
  private readonly live: BatchLane;
  private readonly replay: BatchLane;
  /** The first seq of the live lane; lower seqs are the backlog. Set at each connection. */
  private liveFrom = UNBOUNDED;
  /** The first live seq not yet acknowledged. */
  private liveCursor = UNBOUNDED;
  /** The highest seq committed so far. */
  private lastCommitted = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private replayTimer: NodeJS.Timeout | undefined;
  private replayNextAt = 0;
  private backlogAnnounced = false;
  private draining = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: PublisherOptions) {
    const lane = (name: LaneName) =>
      new BatchLane({
        name,
        client: options.client,
        outbox: options.outbox,
        device: options.device,
        ackTimeoutMs: options.ackTimeoutMs ?? 30_000,
        confirmBy: options.confirmBy ?? 'broker',
        log: options.log,
        settled: (settledLane, acknowledged) => this.settled(settledLane, acknowledged),
      });
    this.live = lane('live');
    this.replay = lane('replay');
    options.client.on('connect', () => this.connected());
  }

  /** Readings up to `lastSeq` were committed: send now if a batch is full, else within the batch interval. */
  readingsAdded(lastSeq: number): void {
    this.lastCommitted = Math.max(this.lastCommitted, lastSeq);
    this.scheduleLive();
  }

  private scheduleLive(): void {
    const waiting = this.lastCommitted - this.liveCursor + 1;
    if (waiting >= this.options.batchMaxReadings) this.flushLive();
    else if (waiting > 0) this.flushTimer ??= setTimeout(() => this.flushLive(), this.options.batchIntervalMs);
  }

  /** Whether backlog readings (an outage's, or unconfirmed ones sent again) are still waiting. */
  get replaying(): boolean {
    return this.liveFrom !== UNBOUNDED && this.options.outbox.peekRange(0, this.liveCursor, 1).length > 0;
  }

  /** Readings below the live lane were made waiting again: send them through the replay lane. */
  resend(): void {
    if (!this.stopped) setImmediate(() => this.flushReplay());
  }

  /**
   * Sends what waits as fast as the broker takes it (no replay pacing) and resolves once the
   * outbox is empty, or at once if the broker is not connected. The caller bounds the wait.
   */
  drain(): Promise<void> {
    this.draining = true;
    this.flushLive();
    this.flushReplay();
    return new Promise((resolve) => {
      if (this.idle()) resolve();
      else this.idleWaiters.push(resolve);
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.replayTimer);
    this.live.abandon();
    this.replay.abandon();
    this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private connected(): void {
    // Everything taken before this connection is backlog: it goes out through the replay lane.
    this.lastCommitted = this.options.outbox.lastSeq();
    this.liveFrom = this.liveCursor = this.lastCommitted + 1;
    this.backlogAnnounced = false;
    this.flushLive();
    this.flushReplay();
  }

  private flushLive(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.stopped || this.live.busy || !this.options.client.connected) return this.checkIdle();
    const entries = this.options.outbox.peekRange(this.liveCursor, UNBOUNDED, this.options.batchMaxReadings);
    if (entries.length > 0) this.live.send(entries);
    else this.checkIdle();
  }

  private flushReplay(): void {
    clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    const { outbox, client, log, replay } = this.options;
    if (this.stopped || this.replay.busy || !client.connected || this.liveFrom === UNBOUNDED) return this.checkIdle();
    const wait = this.draining ? 0 : this.replayNextAt - Date.now();
    if (wait > 0) {
      this.replayTimer = setTimeout(() => this.flushReplay(), wait);
      return;
    }
    // Below the live cursor: the backlog, and any live reading made waiting again after it was sent.
    const entries = outbox.peekRange(0, this.liveCursor, replay?.batchMaxReadings ?? this.options.batchMaxReadings);
    if (entries.length === 0) {
      if (this.backlogAnnounced) log.info('backlog sent');
      this.backlogAnnounced = false;
      return this.checkIdle();
    }
    if (!this.backlogAnnounced) {
      log.info(
        { firstSeq: entries[0]?.seq, belowSeq: this.liveFrom, ratePerSecond: replay?.maxReadingsPerSecond ?? 0 },
        'sending the backlog',
      );
      this.backlogAnnounced = true;
    }
    // Pacing by readings, not batches: the rate holds whatever the batch size.
    const rate = replay?.maxReadingsPerSecond ?? 0;
    this.replayNextAt = Date.now() + (rate > 0 ? (entries.length * 1000) / rate : 0);
    this.replay.send(entries);
  }

  private settled(lane: LaneName, acknowledged: OutboxEntry[] | undefined): void {
    const last = acknowledged?.[acknowledged.length - 1];
    if (lane === 'live' && last) this.liveCursor = Math.max(this.liveCursor, last.seq + 1);
    if (acknowledged) {
      this.stats.batchesSent++;
      this.stats.readingsSent += acknowledged.length;
      if (lane === 'replay') this.stats.readingsReplayed += acknowledged.length;
    }
    if (this.stopped) return;
    // More may be waiting (readings came in while this batch flew): go on without waiting for the timer.
    if (lane === 'live') {
      // A failed batch is offered again within the batch interval; a full one is followed at once.
      if (acknowledged) this.scheduleLive();
      else this.flushTimer ??= setTimeout(() => this.flushLive(), this.options.batchIntervalMs);
    } else {
      // A refused or unacknowledged backlog batch is not retried in a tight loop.
      if (!acknowledged) this.replayNextAt = Math.max(this.replayNextAt, Date.now() + Math.max(1000, this.options.batchIntervalMs));
      setImmediate(() => this.flushReplay());
    }
    this.checkIdle();
  }

  /** Nothing left to send: readings that wait only for the backend's confirmation are kept, not sent again. */
  private idle(): boolean {
    return !this.options.outbox.hasWaiting || !this.options.client.connected;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.idle() && !this.live.busy && !this.replay.busy) {
      this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }
}
