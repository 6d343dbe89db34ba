import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CONTRACT_VERSION, MAX_CONFIRMED_BOOTS, MAX_CONFIRMED_RUNS, type StoredConfirmation, encodePayload, topics } from '../../contract/index.js';
import type { BackendMetrics } from '../metrics.js';
import type { ReadingStore } from '../store/reading-store.js';

export interface ConfirmationsOptions {
  client: MqttClient;
  store: Pick<ReadingStore, 'storedRuns'>;
  /** At most one confirmation per device this often, ms. */
  intervalMs: number;
  metrics: BackendMetrics;
  log: Logger;
}

/** The seq window committed for one (device, boot) since its last confirmation. */
interface Window {
  from: number;
  to: number;
}

/**
 * Backend → agent confirmation (contract: `telemetry/v1/{device}/stored`, retained, QoS 1). After
 * a commit, each device is told which runs of its seq the store holds, for the seq it committed
 * since the last confirmation: the agent forgets exactly those readings, and sends again what
 * stays unconfirmed. So a reading survives in the agent's outbox until it is in the store, not
 * until the broker has it, and the promise does not depend on the broker keeping a session.
 *
 * Throttled per device (`intervalMs`); windows keep growing while the broker is away and go out
 * once it is back. A redelivered batch is confirmed as well, even though it stored nothing new:
 * the agent may have missed the first confirmation.
 */
export class Confirmations {
  private readonly pending = new Map<string, Map<string, Window>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: ConfirmationsOptions) {
    options.client.on('connect', () => this.schedule());
  }

  /** Seq `first` to `last` of a batch of (device, boot) are committed. */
  stored(device: string, boot: string, first: number, last: number): void {
    if (this.closed) return;
    let boots = this.pending.get(device);
    if (!boots) this.pending.set(device, (boots = new Map<string, Window>()));
    const window = boots.get(boot);
    if (window) {
      window.from = Math.min(window.from, first);
      window.to = Math.max(window.to, last);
    } else {
      boots.set(boot, { from: first, to: last });
    }
    this.schedule();
  }

  /** Sends what is pending now (best effort: the broker may be gone), then takes nothing more. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
    this.closed = true;
  }

  private schedule(): void {
    if (this.timer || this.closed || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        this.schedule();
      });
    }, this.options.intervalMs);
  }

  private async flush(): Promise<void> {
    const { client, store, metrics, log } = this.options;
    if (!client.connected) return; // kept, merged, and sent on the next connect
    for (const [device, boots] of [...this.pending]) {
      this.pending.delete(device);
      const taken = [...boots].slice(0, MAX_CONFIRMED_BOOTS);
      // More boots than one message holds: the rest wait for the next round.
      if (boots.size > taken.length) this.pending.set(device, new Map([...boots].slice(MAX_CONFIRMED_BOOTS)));
      try {
        const confirmed: StoredConfirmation['boots'] = [];
        for (const [boot, { from, to }] of taken) {
          const runs = await store.storedRuns(device, boot, from, to, MAX_CONFIRMED_RUNS);
          if (runs.length > 0) confirmed.push({ boot, runs });
        }
        if (confirmed.length === 0) continue;
        const payload: StoredConfirmation = { v: CONTRACT_VERSION, device, ts: Date.now(), boots: confirmed };
        client.publish(topics.stored(device), encodePayload(payload), { qos: 1, retain: true }, (error) => {
          if (error) log.debug({ err: error, device }, 'confirmation not acknowledged by the broker; the agent will send again what it misses');
        });
        metrics.confirmationsPublished.inc();
      } catch (error) {
        // The store is closing or failing: the agent keeps the readings and sends them again.
        metrics.confirmationFailures.inc();
        log.warn({ err: error, device }, 'could not confirm stored readings to the agent; it will send them again');
      }
    }
  }
}
