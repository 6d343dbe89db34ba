import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CONTRACT_VERSION, type ReadingBatch, encodePayload, topics } from '../../contract/index.js';
import { onceLevel } from '../../contract/log-once.js';
import type { DurableOutbox, OutboxEntry } from '../outbox/outbox.js';

export type LaneName = 'live' | 'replay';

export interface LaneOptions {
  name: LaneName;
  client: MqttClient;
  outbox: DurableOutbox;
  device: string;
  /** How long a batch may wait for its PUBACK before it is offered again. */
  ackTimeoutMs: number;
  /** backend: a PUBACK makes the batch sent, and the backend's confirmation removes it; broker: the PUBACK removes it. */
  confirmBy: 'backend' | 'broker';
  log: Logger;
  /** A batch was acknowledged (its readings are gone from the outbox), or given up on. */
  settled: (lane: LaneName, acknowledged: OutboxEntry[] | undefined) => void;
}

/**
 * One stream of batches to the broker: one QoS 1 batch in flight at a time, so the lane keeps
 * its order, and a batch changes state in the outbox only after its PUBACK, and only its own rows.
 */
export class BatchLane {
  private inFlight: { token: number; timer: NodeJS.Timeout } | undefined;
  private nextToken = 1;
  /** The outbox refused the last update (a full disk): said loudly once, then quietly until it works again. */
  private failing = false;

  constructor(private readonly options: LaneOptions) {}

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Publishes `entries` (one boot, ascending seq). */
  send(entries: OutboxEntry[]): void {
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (!first || !last || this.inFlight) return;
    const { client, device, log, name } = this.options;
    const token = this.nextToken++;
    const timer = setTimeout(() => {
      log.warn({ lane: name, firstSeq: first.seq, lastSeq: last.seq }, 'no PUBACK in time; the batch will be offered again');
      this.settle(token, undefined);
    }, this.options.ackTimeoutMs);
    this.inFlight = { token, timer };
    const payload = encodePayload(toBatch(device, first.boot, entries, name === 'replay'));
    client.publish(topics.readings(device), payload, { qos: 1 }, (error) => {
      if (this.inFlight?.token !== token) return; // timed out already; a late PUBACK changes nothing
      if (error) {
        log.warn({ err: error, lane: name, firstSeq: first.seq }, 'publish failed; the batch stays in the outbox');
        this.settle(token, undefined);
        return;
      }
      if (!this.acknowledged(entries)) {
        // Not recorded: settled as unacknowledged, so the lane waits before offering it again
        // instead of sending the same rows in a tight loop while the disk is full.
        this.settle(token, undefined);
        return;
      }
      log.debug({ lane: name, firstSeq: first.seq, lastSeq: last.seq, readings: entries.length }, 'batch acknowledged');
      this.settle(token, entries);
    });
  }

  /**
   * Only this batch's rows: the other lane may hold readings between or around them. Runs inside
   * MQTT.js's acknowledgement handler, so it must not throw: a disk that cannot be written leaves
   * the rows waiting, and they are sent again (the backend drops what it has).
   */
  private acknowledged(entries: OutboxEntry[]): boolean {
    const { outbox, log, name, confirmBy } = this.options;
    try {
      if (confirmBy === 'backend') outbox.markSent(entries);
      else outbox.acknowledgeRuns(entries);
      if (this.failing) log.info({ lane: name }, 'the outbox takes acknowledgements again');
      this.failing = false;
      return true;
    } catch (error) {
      log[onceLevel(!this.failing, 'error')](
        { err: error, lane: name },
        'the outbox cannot record an acknowledged batch; it will be sent again',
      );
      this.failing = true;
      return false;
    }
  }

  /** Forgets the batch in flight (the agent is stopping); its readings stay in the outbox. */
  abandon(): void {
    clearTimeout(this.inFlight?.timer);
    this.inFlight = undefined;
  }

  private settle(token: number, acknowledged: OutboxEntry[] | undefined): void {
    if (this.inFlight?.token !== token) return;
    clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
    this.options.settled(this.options.name, acknowledged);
  }
}

/**
 * The contract's readings batch. `replay` marks readings sent from the outbox after an outage: the
 * replay lane's readings (the backlog of an outage or of an earlier run, and readings sent again
 * unconfirmed), never the live lane's. It is decided here, by the lane, for the whole batch.
 */
export function toBatch(device: string, boot: string, entries: readonly OutboxEntry[], replay: boolean): ReadingBatch {
  return {
    v: CONTRACT_VERSION,
    device,
    boot,
    readings: entries.map(({ seq, ts, sensor, value, unit, quality, clock }) => ({ seq, ts, sensor, value, unit, quality, clock, replay })),
  };
}
