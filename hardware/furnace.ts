// One emulated furnace: the thermal model with the faults of its timeline applied (spec §17, §19).
import type { ProgramSegment } from './firing-program.js';
import { FurnaceModel, MODEL_STEP_S } from './furnace-model.js';
import { seededRandom } from './random.js';
import { type FaultKind, type ScenarioEvent, Timeline } from './scenario.js';

/** The thermocouple faults a MAX31855-style amplifier reports: spec §5. */
export type SensorFault = 'OPEN' | 'SHORT_GND' | 'SHORT_VCC';

/** What the sensor reports at one moment: a temperature, or a fault; with the cold junction either way. */
export type SensorSample =
  { kind: 'value'; celsius: number; coldJunction: number } | { kind: 'fault'; fault: SensorFault; coldJunction: number };

export interface FurnaceOptions {
  /** Fixes the model's noise and, through a second generator, the random faults. */
  seed: number;
  ambient?: number;
  setpoint?: number;
  noise?: number;
  program?: readonly ProgramSegment[];
  scenario?: readonly ScenarioEvent[];
  /** The controller turns its output off on a sensor fault (spec §14): true for the Modbus controller. */
  failSafe?: boolean;
}

/** Spec §4: the amplifier's span; a reading never leaves it. */
export const SENSOR_SPAN_C = { min: -270, max: 1800 } as const;

/** Spec §19.3: the chance that one reading, line or response in a window is hit. */
export const FAULT_RATE = { spikes: 0.1, noise: 0.25, partial: 0.25 } as const;

const SENSOR_FAULTS: ReadonlyArray<[FaultKind, SensorFault]> = [
  ['tc-open', 'OPEN'],
  ['tc-short-gnd', 'SHORT_GND'],
  ['tc-short-vcc', 'SHORT_VCC'],
];

// A fixed offset keeps the fault generator's series apart from the model's noise of the same seed.
const FAULT_SEED_OFFSET = 0x5eed;

export class Furnace {
  readonly model: FurnaceModel;
  readonly timeline: Timeline;
  /** The generator of every random fault decision (spikes, noise bytes, cut lines). */
  readonly faultRandom: () => number;
  private readonly failSafe: boolean;
  private pendingS = 0;
  private stuckAt: number | undefined;

  constructor(options: FurnaceOptions) {
    this.model = new FurnaceModel(options);
    this.timeline = new Timeline(options.scenario);
    this.faultRandom = seededRandom(options.seed + FAULT_SEED_OFFSET);
    this.failSafe = options.failSafe ?? false;
    this.applyFaults();
  }

  /** Simulated seconds since the start. */
  get time(): number {
    return this.model.time;
  }

  /** Whether `fault` is active now. */
  isActive(fault: FaultKind): boolean {
    return this.timeline.isActive(fault, this.time);
  }

  /** The thermocouple fault active now, if any (the first listed wins when several overlap). */
  get sensorFault(): SensorFault | undefined {
    return SENSOR_FAULTS.find(([kind]) => this.isActive(kind))?.[1];
  }

  /** Advances by `seconds`, one fixed step at a time, so a fault starts at the exact step its window opens. */
  advance(seconds: number): void {
    this.pendingS += seconds;
    while (this.pendingS >= MODEL_STEP_S - 1e-9) {
      this.pendingS -= MODEL_STEP_S;
      this.model.advance(MODEL_STEP_S);
      this.applyFaults();
    }
  }

  /** What the sensor reports now: spec §19.3 for stuck, spikes and the thermocouple faults. */
  sample(): SensorSample {
    const coldJunction = this.coldJunction();
    const fault = this.sensorFault;
    if (fault) return { kind: 'fault', fault, coldJunction };
    let celsius = this.model.read();
    if (this.isActive('stuck')) {
      this.stuckAt ??= celsius;
      celsius = this.stuckAt;
    } else {
      this.stuckAt = undefined;
    }
    if (this.isActive('spikes') && this.faultRandom() < FAULT_RATE.spikes) {
      const sign = this.faultRandom() < 0.5 ? -1 : 1;
      celsius += sign * (200 + this.faultRandom() * 400);
    }
    return { kind: 'value', celsius: Math.min(Math.max(celsius, SENSOR_SPAN_C.min), SENSOR_SPAN_C.max), coldJunction };
  }

  /** `count` random bytes from the fault generator (spec §19.3 noise). */
  randomBytes(count: number): Buffer {
    return Buffer.from(Array.from({ length: count }, () => Math.floor(this.faultRandom() * 256)));
  }

  /** A whole number from `min` to `max` inclusive, from the fault generator. */
  randomInt(min: number, max: number): number {
    return min + Math.floor(this.faultRandom() * (max - min + 1));
  }

  private applyFaults(): void {
    this.model.heater = this.isActive('overheat') ? 'stuck-on' : this.isActive('heater-failure') ? 'failed' : 'normal';
    this.model.outputInhibited = this.failSafe && this.sensorFault !== undefined;
  }

  /** Spec §4: the amplifier's own temperature, warmed a little by the furnace beside it. */
  private coldJunction(): number {
    return this.model.ambient + 0.004 * (this.model.chamber - this.model.ambient);
  }
}
