import type { Quality, SensorState } from '../../contract/index.js';
import type { SourceState } from '../links/reopening-link.js';

/** What a driver reports about its sensors; the agent turns it into readings, states and counts. */
export interface SensorSink {
  /** A line sensor's port delivered a line (counted whatever becomes of it). */
  lineRead(): void;
  /** A reading taken at `ts` (Unix ms): a value, or `null` with quality `bad` (a fault reading). */
  reading(sensorId: string, ts: number, value: number | null, quality: Quality): void;
  /** The sensor's health (published retained on telemetry/v1/{device}/sensors when it changes). */
  state(sensorId: string, state: SensorState, reason?: string): void;
  /** A line that made no reading (spec §7: refused, never guessed at), by stable reason. */
  refused(sensorId: string, reason: string, line: string): void;
  /** A poll that made no good reading (a Modbus timeout, CRC error or exception), by stable reason. */
  failed(sensorId: string, reason: string, detail: string): void;
}

/** The drivers of one port: they read its sensors until stopped. */
export interface SensorDriver {
  start(): void;
  stop(): Promise<void>;
}

/**
 * What a port's state says about every sensor on it: a port that is gone takes its sensors
 * with it (`disconnected`), a silent one stalls them. An open port says nothing yet: a sensor
 * is `ok` again with its first reading.
 */
export function reportPortState(sink: SensorSink, sensorIds: readonly string[], state: SourceState, reason: string | undefined): void {
  switch (state) {
    case 'closed':
      for (const id of sensorIds) sink.state(id, 'disconnected', reason ?? 'port closed');
      return;
    case 'stalled':
      for (const id of sensorIds) sink.state(id, 'stalled', reason);
      return;
    case 'opening':
    case 'open':
      return;
  }
}
