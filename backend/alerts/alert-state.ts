import type { AlertTransition, Reading, SensorState } from '../../contract/index.js';
import type { StatusMark } from '../registry/status-order.js';

// The state of one alert instance: one rule applied to one (device, sensor). It is plain
// data so the store can persist it and a restart picks up where it left off.

export type AlertPhase = AlertTransition['to'];

/** What a rule's condition remembers between inputs; which fields are used depends on the kind. */
export interface ConditionMemory {
  /** Threshold: which limit is breached; stays set until the value crosses the clear level (hysteresis). */
  breached?: 'above' | 'below';
  /** Rate: readings within the window, oldest first. */
  samples?: Array<{ ts: number; value: number }>;
  /** Stale: when the last live (non-replay) reading arrived, on the backend's clock. */
  lastArrival?: number;
  /**
   * Threshold and rate: the newest reading's source time and when it arrived (backend clock), so
   * a tick can tell the source time now and `for`, `keepFiringFor` and reminders run on time
   * between the readings of a slow sensor.
   */
  heard?: { ts: number; at: number };
  /** Sensor: the last health report said not `ok`. */
  healthBad?: boolean;
  /** Sensor: the last reading had `bad` quality. */
  readingBad?: boolean;
  /** Offline: the newest status taken, so a stale one arriving late is ignored (registry/status-order.ts). */
  status?: StatusMark;
}

export interface AlertInstance {
  rule: string;
  device: string;
  /** Absent for device-wide rules (`offline`). */
  sensor?: string;
  phase: AlertPhase;
  /** When the instance entered `phase`. */
  since: number;
  /** Whether the condition held at the last evaluation. */
  holds: boolean;
  /** When the condition started holding (pending, then firing). */
  holdingSince?: number;
  /** When the condition stopped holding while still firing (`keepFiringFor`). */
  clearSince?: number;
  /** The last firing or reminder transition (`repeatEvery`). */
  notifiedAt?: number;
  /** The newest time seen on this instance's clock; time never runs backwards for it. */
  clock?: number;
  value?: number | null;
  memory: ConditionMemory;
}

/** An input to the evaluator. `now` (the backend's clock) is passed beside it. */
export type AlertInput =
  | { type: 'reading'; device: string; reading: Reading }
  /** `ts` and `boot` as the status says them; absent for a cleared status (nothing to order by). */
  | { type: 'status'; device: string; state: 'online' | 'offline'; ts?: number; boot?: string | undefined }
  | { type: 'sensor-state'; device: string; sensor: string; state: SensorState; reason?: string }
  | { type: 'tick' };

export interface Evaluation {
  instance: AlertInstance;
  transitions: AlertTransition[];
}

export function newInstance(rule: string, device: string, sensor: string | undefined, now: number): AlertInstance {
  return { rule, device, ...(sensor === undefined ? {} : { sensor }), phase: 'inactive', since: now, holds: false, memory: {} };
}

/** The key an instance is stored under: one per (rule, device, sensor). */
export function instanceKey(rule: string, device: string, sensor: string | undefined): string {
  // `/` never appears in a segment, so keys cannot collide.
  return `${rule}/${device}/${sensor ?? ''}`;
}
