import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { encodePayload, topics } from '../../../contract/index.js';
import type { ChannelItem } from '../types.js';
import type { DeliveryChannel } from './channel.js';
import { DeliveryError } from './errors.js';

export const MQTT_CHANNEL = 'mqtt';

export interface MqttAlertChannelOptions {
  /** How long one publish waits for its PUBACK before the attempt fails (default 10 000). */
  ackTimeoutMs?: number;
}

interface Publication {
  topic: string;
  payload: Buffer | string;
  retain: boolean;
}

/**
 * Alerts on the broker (DESIGN.md, the MQTT contract): the retained state of each (device, rule)
 * on alerts/v1/{device}/{rule} and every notified transition on alerts/v1/events, QoS 1. It
 * publishes through the backend's own client (not ended here) and reports success only on PUBACK,
 * so an item leaves the outbox once the broker has it.
 */
export class MqttAlertChannel implements DeliveryChannel {
  readonly name = MQTT_CHANNEL;
  private readonly ackTimeoutMs: number;
  private readonly pending = new Set<(error: Error) => void>();
  private readonly readyListeners: Array<() => void> = [];
  private closed = false;
  private readonly onClose = () =>
    this.failPending(new DeliveryError('ALERT_DELIVERY_MQTT_OFFLINE', 'connection to the broker lost before PUBACK'));
  private readonly onConnect = () => {
    for (const listener of this.readyListeners) listener();
  };

  constructor(
    private readonly client: MqttClient,
    private readonly log: Logger,
    options: MqttAlertChannelOptions = {},
  ) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    client.on('close', this.onClose);
    client.on('connect', this.onConnect);
  }

  wants(_item: ChannelItem): boolean {
    return true;
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  async deliver(item: ChannelItem): Promise<void> {
    if (this.closed) throw new DeliveryError('ALERT_DELIVERY_CLOSED', 'the MQTT alert channel is closed');
    // MQTT.js would keep a QoS 1 publish made while offline in its memory store until it reconnects;
    // refusing instead leaves the item in our durable outbox, which survives a restart.
    if (!this.client.connected) throw new DeliveryError('ALERT_DELIVERY_MQTT_OFFLINE', 'not connected to the broker');
    // One after the other on the same connection, so the broker sees them in order; all awaited,
    // so a retry repeats the lot (a retained state repeated is harmless, an event is deduped by id).
    await Promise.all(publications(item).map((publication) => this.publish(publication)));
    this.log.debug({ kind: item.kind }, 'alert published');
  }

  close(): Promise<void> {
    this.closed = true;
    this.client.off('close', this.onClose);
    this.client.off('connect', this.onConnect);
    this.failPending(new DeliveryError('ALERT_DELIVERY_CLOSED', 'the MQTT alert channel was closed'));
    return Promise.resolve();
  }

  private publish({ topic, payload, retain }: Publication): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // MQTT 3.1.1 §4.3.2 (QoS 1): called when the PUBACK arrives.
      const onPuback = (error?: Error) =>
        settle(
          error
            ? new DeliveryError('ALERT_DELIVERY_MQTT_FAILED', `publish on ${topic} failed: ${error.message}`, { cause: error })
            : undefined,
        );
      const settle = (error?: Error) => {
        if (!this.pending.delete(fail)) return; // settled already (timeout, close, or the callback)
        clearTimeout(timer);
        if (error) {
          this.withdraw(onPuback);
          reject(error);
        } else resolve();
      };
      const fail = (error: Error) => settle(error);
      const timer = setTimeout(
        () => settle(new DeliveryError('ALERT_DELIVERY_MQTT_TIMEOUT', `no PUBACK for ${topic} within ${this.ackTimeoutMs} ms`)),
        this.ackTimeoutMs,
      );
      this.pending.add(fail);
      this.client.publish(topic, payload, { qos: 1, retain }, onPuback);
    });
  }

  /**
   * A failed attempt is retried from the durable outbox, so MQTT.js must not keep a copy of it:
   * it would send that copy again by itself once reconnected [MQTT-4.4.0-1], and the broker would
   * get the event twice, once from each. The copy is found by its callback, which MQTT.js keeps
   * beside the message id it gave it.
   */
  private withdraw(onPuback: (error?: Error) => void): void {
    for (const [id, outgoing] of Object.entries(this.client.outgoing)) {
      if (outgoing.cb === onPuback) this.client.removeOutgoingMessage(Number(id));
    }
  }

  private failPending(error: Error): void {
    for (const fail of [...this.pending]) fail(error);
  }
}

/** What one item puts on the broker, in order. */
export function publications(item: ChannelItem): Publication[] {
  switch (item.kind) {
    case 'transition': {
      const out: Publication[] = [];
      if (item.state)
        out.push({ topic: topics.alertState(item.state.device, item.state.rule), payload: encodePayload(item.state), retain: true });
      // Silenced transitions stay in the retained state (it is the truth) but are not announced.
      if (!item.silenced) out.push({ topic: topics.alertEvents(), payload: encodePayload(item.event), retain: false });
      return out;
    }
    case 'forget':
      // [MQTT-3.3.1-10]: a retained message with an empty payload removes the retained message.
      return [{ topic: topics.alertState(item.device, item.rule), payload: '', retain: true }];
  }
}
