import type { ChannelItem, ChannelSpec } from '../types.js';

/**
 * Where alert items go: the broker, or one webhook. The dispatcher hands it one item at a time,
 * in order, and retries whatever `deliver` rejects; so `deliver` must settle within a bound of its
 * own (a timeout) and never block the event loop.
 */
export interface DeliveryChannel extends ChannelSpec {
  /** Resolves once the far side has the item (PUBACK, a 2xx); rejects with the reason otherwise. */
  deliver(item: ChannelItem): Promise<void>;
  /**
   * Optional: calls `listener` whenever the channel can deliver again after an outage (MQTT
   * reconnected), so the dispatcher retries at once instead of at the end of its backoff.
   */
  onReady?(listener: () => void): void;
  /** Gives up any attempt in flight and lets go of what the channel holds (not the MQTT client). */
  close(): Promise<void>;
}

/** The id that names an item in logs: the event id, or what a forget clears. */
export function itemLabel(item: ChannelItem): string {
  switch (item.kind) {
    case 'transition':
      return item.event.id;
    case 'forget':
      return `forget:${item.device}/${item.rule}`;
  }
}
