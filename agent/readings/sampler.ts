import type { Quality } from '../../contract/index.js';

export interface SamplingOptions {
  /** Readings closer than this to the last one kept are dropped (ms; 0 keeps every one). */
  minIntervalMs: number;
  /** Changes smaller than this from the last value kept are dropped (report by exception; 0 keeps every change). */
  deadband: number;
  /** ...but a reading is kept at least this often, changed or not, so silence always means trouble (ms). */
  heartbeatMs: number;
}

/**
 * Decides which readings of one sensor are worth sending. A change of quality is always
 * kept: a thermocouple going open must never wait for a heartbeat.
 */
export class Sampler {
  private last: { ts: number; value: number | null; quality: Quality } | undefined;

  private readonly options: SamplingOptions;

  constructor(options: SamplingOptions) {
    // A copy: set-interval changes this sensor's minimum interval, never the plan it came from.
    this.options = { ...options };
  }

  /**
   * `force`: kept whatever the settings say (a reading asked for by read-now). A reading kept only
   * because it was forced does not become the reference: read-now every 45 s under a 60 s minimum
   * interval must not starve the regular cadence.
   */
  accept(ts: number, value: number | null, quality: Quality, force = false): boolean {
    const last = this.last;
    const due = last === undefined || quality !== last.quality || this.worthKeeping(last, ts, value);
    if (due) this.last = { ts, value, quality };
    return due || force;
  }

  get minIntervalMs(): number {
    return this.options.minIntervalMs;
  }

  /** Changes the minimum interval at run time (set-interval); returns the previous one. */
  setMinInterval(ms: number): number {
    const previous = this.options.minIntervalMs;
    this.options.minIntervalMs = ms;
    return previous;
  }

  private worthKeeping(last: { ts: number; value: number | null }, ts: number, value: number | null): boolean {
    const { minIntervalMs, deadband, heartbeatMs } = this.options;
    const elapsed = ts - last.ts;
    if (elapsed < minIntervalMs) return false;
    if (heartbeatMs > 0 && elapsed >= heartbeatMs) return true;
    if (value === null || last.value === null) return value !== last.value;
    return Math.abs(value - last.value) >= deadband;
  }
}
