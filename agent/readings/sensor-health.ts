import { CONTRACT_VERSION, type SensorState, type SensorsHealth } from '../../contract/index.js';

interface Entry {
  state: SensorState;
  since: number;
  reason?: string;
}

/**
 * The state of each sensor of this agent, with since-when and why, as published retained on
 * `telemetry/v1/{device}/sensors`. A sensor starts `disconnected` until its port opens.
 */
export class SensorHealthBoard {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly device: string,
    sensors: readonly string[],
    now = Date.now(),
  ) {
    for (const sensor of sensors) this.entries.set(sensor, { state: 'disconnected', since: now, reason: 'not opened yet' });
  }

  /** Sets a sensor's state; returns whether anything changed (and so is worth publishing). */
  set(sensor: string, state: SensorState, reason: string | undefined, now = Date.now()): boolean {
    const entry = this.entries.get(sensor);
    if (entry === undefined) throw new Error(`unknown sensor ${sensor}`);
    if (entry.state === state && entry.reason === reason) return false;
    // `since` marks the change of state; a new reason for the same state keeps it.
    this.entries.set(sensor, { state, since: entry.state === state ? entry.since : now, reason });
    return true;
  }

  get(sensor: string): Readonly<Entry> | undefined {
    return this.entries.get(sensor);
  }

  payload(now = Date.now()): SensorsHealth {
    return {
      v: CONTRACT_VERSION,
      device: this.device,
      ts: now,
      sensors: [...this.entries].map(([sensor, { state, since, reason }]) => ({
        sensor,
        state,
        since,
        ...(reason === undefined ? {} : { reason }),
      })),
    };
  }
}
