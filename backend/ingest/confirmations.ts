import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  CONTRACT_VERSION,
  MAX_CONFIRMED_BOOTS,
  MAX_CONFIRMED_RUNS,
  type StoredConfirmation,
  encodePayload,
  topics,
} from '../../contract/index.js';
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

/** A seq window committed for one (device, boot) since its last confirmation. */
interface Window {
  from: number;
  to: number;
}

/**
 * Windows kept apart per boot, at most this many: a replayed backlog and the live readings beside
 * it are confirmed each by its own runs, so a long history of gaps between them cannot push the
 * newest runs out of a message.
 */
const MAX_WINDOWS = 4;
/** Runs asked for per window; a message carries at most MAX_CONFIRMED_RUNS in all. */
const RUNS_PER_WINDOW = Math.floor(MAX_CONFIRMED_RUNS / MAX_WINDOWS);

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
  private readonly pending = new Map<string, Map<string, Window[]>>();
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
    if (!boots) this.pending.set(device, (boots = new Map<string, Window[]>()));
    const windows = boots.get(boot) ?? [];
    boots.set(boot, addWindow(windows, first, last));
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
    // One flush at a time: the one running schedules the next when it ends.
    if (this.timer || this.flushing || this.closed || this.pending.size === 0) return;
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
        for (const [boot, windows] of taken) {
          const runs: Array<[number, number]> = [];
          for (const { from, to } of windows) runs.push(...(await store.storedRuns(device, boot, from, to, RUNS_PER_WINDOW)));
          if (runs.length > 0) confirmed.push({ boot, runs: mergeRuns(runs) });
        }
        if (confirmed.length === 0) continue;
        const payload: StoredConfirmation = { v: CONTRACT_VERSION, device, ts: Date.now(), boots: confirmed };
        client.publish(topics.stored(device), encodePayload(payload), { qos: 1, retain: true }, (error) => {
          if (error)
            log.debug({ err: error, device }, 'confirmation not acknowledged by the broker; the agent will send again what it misses');
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

/** Adds [first, last] to the windows, merging overlapping or adjacent ones; past MAX_WINDOWS the two closest merge. */
function addWindow(windows: Window[], first: number, last: number): Window[] {
  const all = [...windows, { from: first, to: last }].sort((a, b) => a.from - b.from);
  const merged: Window[] = [];
  for (const window of all) {
    const previous = merged[merged.length - 1];
    if (previous && window.from <= previous.to + 1) previous.to = Math.max(previous.to, window.to);
    else merged.push({ ...window });
  }
  while (merged.length > MAX_WINDOWS) {
    let closest = 0;
    for (let i = 1; i < merged.length - 1; i++) {
      const gap = (merged[i + 1]?.from ?? 0) - (merged[i]?.to ?? 0);
      if (gap < (merged[closest + 1]?.from ?? 0) - (merged[closest]?.to ?? 0)) closest = i;
    }
    const [left, right] = merged.splice(closest, 2);
    if (left && right) merged.splice(closest, 0, { from: left.from, to: right.to });
  }
  return merged;
}

/** Runs from several windows, ascending, a run found twice (it spans two windows) once. */
function mergeRuns(runs: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...runs].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const run of sorted) {
    const previous = merged[merged.length - 1];
    if (previous && run[0] <= previous[1]) previous[1] = Math.max(previous[1], run[1]);
    else merged.push([run[0], run[1]]);
  }
  return merged;
}
