// A SensorSink (agent/drivers/sensor-events.ts) that records what the agent's drivers report, for their tests.
import type { Quality, SensorState } from '../../contract/index.js';
import type { SensorSink } from '../../agent/drivers/sensor-events.js';

export interface RecordedReading {
  sensor: string;
  ts: number;
  value: number | null;
  quality: Quality;
}

export class RecordingSink implements SensorSink {
  readonly readings: RecordedReading[] = [];
  readonly states: Array<{ sensor: string; state: SensorState; reason?: string }> = [];
  readonly refusals: Array<{ sensor: string; reason: string }> = [];
  readonly failures: Array<{ sensor: string; reason: string; detail: string }> = [];
  lines = 0;

  lineRead(): void {
    this.lines++;
  }
  reading(sensor: string, ts: number, value: number | null, quality: Quality): void {
    this.readings.push({ sensor, ts, value, quality });
  }
  state(sensor: string, state: SensorState, reason?: string): void {
    const last = this.stateOf(sensor);
    if (last?.state !== state || last.reason !== reason) this.states.push({ sensor, state, ...(reason === undefined ? {} : { reason }) });
  }
  refused(sensor: string, reason: string): void {
    this.refusals.push({ sensor, reason });
  }
  failed(sensor: string, reason: string, detail: string): void {
    this.failures.push({ sensor, reason, detail });
  }

  stateOf(sensor: string): { state: SensorState; reason?: string } | undefined {
    return this.states.filter((entry) => entry.sensor === sensor).at(-1);
  }
  readingsOf(sensor: string): RecordedReading[] {
    return this.readings.filter((reading) => reading.sensor === sensor);
  }
}
