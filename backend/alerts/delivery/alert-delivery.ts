import type Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { BackendConfig } from '../../config.js';
import type { BackendMetrics } from '../../metrics.js';
import type { ChannelSpec } from '../types.js';
import type { DeliveryChannel } from './channel.js';
import { Dispatcher } from './dispatcher.js';
import { MqttAlertChannel } from './mqtt-channel.js';
import { ChannelOutbox } from './outbox.js';
import { WebhookChannel } from './webhook-channel.js';

export interface AlertDeliveryOptions {
  db: Database.Database;
  alerts: Pick<BackendConfig['alerts'], 'mqtt' | 'webhooks' | 'retryMinMs' | 'retryMaxMs'>;
  /** The backend's ingest client; needed when alerts.mqtt is on. Never ended here. */
  mqttClient?: MqttClient;
  metrics: Pick<BackendMetrics, 'alertDeliveries' | 'alertOutboxPending'>;
  log: Logger;
  now?: () => number;
  /** How long stop() waits for each channel's attempt in flight (default 5000). */
  stopTimeoutMs?: number;
}

/** Every configured channel with its dispatcher: what the engine enqueues to and wakes. */
export class AlertDelivery {
  readonly dispatchers: ReadonlyMap<string, Dispatcher>;
  /** The channels, for the engine to pick per item with wants(). */
  readonly channels: readonly ChannelSpec[];

  private constructor(entries: ReadonlyArray<{ channel: DeliveryChannel; dispatcher: Dispatcher }>) {
    this.dispatchers = new Map(entries.map(({ channel, dispatcher }) => [channel.name, dispatcher]));
    this.channels = entries.map(({ channel }) => channel);
  }

  /** Builds one channel and dispatcher per configured target; start() begins delivering. */
  static create({ db, alerts, mqttClient, metrics, log, now, stopTimeoutMs }: AlertDeliveryOptions): AlertDelivery {
    const entries: Array<{ channel: DeliveryChannel; dispatcher: Dispatcher }> = [];
    const add = (channel: DeliveryChannel, retryForMs: number) => {
      const outbox = new ChannelOutbox(db, channel.name);
      const { retryMinMs, retryMaxMs } = alerts;
      entries.push({
        channel,
        dispatcher: new Dispatcher({ outbox, channel, retryMinMs, retryMaxMs, retryForMs, metrics, log, now, stopTimeoutMs }),
      });
    };
    if (alerts.mqtt) {
      if (!mqttClient) throw new Error('alerts.mqtt is on but no MQTT client was given to the alert delivery');
      // The broker is ours and comes back: MQTT items are retried for as long as it takes.
      add(new MqttAlertChannel(mqttClient, log.child({ component: 'alerts:mqtt' })), Number.POSITIVE_INFINITY);
    }
    for (const hook of alerts.webhooks) {
      add(new WebhookChannel(hook, log.child({ component: 'alerts:webhook', webhook: hook.name }), { now }), hook.retryForMs);
    }
    return new AlertDelivery(entries);
  }

  start(): void {
    for (const dispatcher of this.dispatchers.values()) dispatcher.start();
  }

  /** Call after committing outbox rows for these channels; unknown names are ignored. */
  wake(channels: Iterable<string> = this.dispatchers.keys()): void {
    for (const name of channels) this.dispatchers.get(name)?.wake();
  }

  /** Stops every dispatcher (each waits a bounded time for its attempt in flight) and closes the channels. */
  async stop(): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((dispatcher) => dispatcher.stop()));
  }
}
