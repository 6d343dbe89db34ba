// The thermal model of the furnace (spec §17): physics, the controller, the sensor.
import { FiringProgram, type ProgramSegment } from './firing-program.js';
import { gaussian, seededRandom } from './random.js';

export interface FurnaceModelOptions {
  seed: number;
  /** °C of the room around the furnace. */
  ambient?: number;
  /** °C the controller holds when no program runs. */
  setpoint?: number;
  /** °C of measurement noise (one standard deviation). */
  noise?: number;
  /** A firing program (spec §18); while it runs it sets the setpoint. */
  program?: readonly ProgramSegment[];
}

/** What the heater does with the controller's output: spec §19 overheat and heater-failure. */
export type HeaterState = 'normal' | 'stuck-on' | 'failed';

/** One fixed step of simulated time, in seconds: spec §17. */
export const MODEL_STEP_S = 1;

/**
 * A lumped thermal model of an electric furnace under a PID controller: heater power toward
 * the setpoint, loss to ambient in proportion to the difference, a thermocouple that lags
 * the chamber, and measurement noise. It advances in fixed steps of simulated time, so a
 * seed fixes the whole series whatever the timing of the machine.
 */
export class FurnaceModel {
  /** Heater as the faults leave it; the controller does not know. */
  heater: HeaterState = 'normal';
  /** The controller's output is forced to 0 (its fail-safe on a sensor fault, spec §14). */
  outputInhibited = false;

  private chamberC: number;
  private sensorC: number;
  private measuredC: number;
  private integral = 0;
  private lastMeasured: number | undefined;
  private derivative = 0;
  private outputDuty = 0;
  private steps = 0;
  private pendingS = 0;
  private manualSetpoint: number;
  private program: FiringProgram | undefined;
  private readonly random: () => number;
  readonly ambient: number;
  private readonly noise: number;

  // An 18 kW kiln of 60 kJ/K losing 10 W/K: about an hour from cold to 850 °C at full power,
  // able to reach 1200 °C with power to spare, and 1820 °C if the heater never switches off.
  static readonly maxPowerW = 18_000;
  static readonly heatCapacityJPerK = 60_000;
  static readonly lossWPerK = 10;
  static readonly sensorLagS = 10;
  // PID on the measured value: proportional band 50 °C, integral time 10 min, derivative time 10 s
  // (tuned so a step to 850 °C overshoots by about 1 °C and a 5 K/min ramp lags by a few °C).
  private static readonly kp = 0.02;
  private static readonly ki = 0.02 / 600;
  private static readonly kd = 0.02 * 10;
  private static readonly derivativeFilterS = 20;

  constructor(options: FurnaceModelOptions) {
    this.random = seededRandom(options.seed);
    this.ambient = options.ambient ?? 20;
    this.manualSetpoint = options.setpoint ?? 850;
    this.noise = options.noise ?? 0.3;
    this.chamberC = this.ambient;
    this.sensorC = this.ambient;
    this.measuredC = this.ambient + gaussian(this.random) * this.noise;
    if (options.program) this.program = new FiringProgram(options.program, this.ambient);
  }

  /** Simulated seconds since the start. */
  get time(): number {
    return this.steps * MODEL_STEP_S;
  }

  /** The true chamber temperature, °C. */
  get chamber(): number {
    return this.chamberC;
  }

  /** The controller's output, 0 to 1 (what it asks of the heater); 0 at once when inhibited. */
  get output(): number {
    return this.outputInhibited ? 0 : this.outputDuty;
  }

  /** Whether a firing program sets the setpoint (spec §14 bit 6). */
  get programRunning(): boolean {
    return this.program !== undefined;
  }

  /** The setpoint in force now, °C, or `undefined` when the program has the heater off. */
  get workingSetpoint(): number | undefined {
    if (!this.program) return this.manualSetpoint;
    const setpoint = this.program.setpointAt(this.time);
    return setpoint === 'off' ? undefined : setpoint;
  }

  /** The manual setpoint; setting it ends a running program (spec §13). */
  get setpoint(): number {
    return this.manualSetpoint;
  }

  set setpoint(celsius: number) {
    this.manualSetpoint = celsius;
    this.program = undefined;
  }

  /** Advances by `seconds` of simulated time, in whole fixed steps; the remainder waits for the next call. */
  advance(seconds: number): void {
    this.pendingS += seconds;
    // The tolerance keeps a sum of decimal fractions (0.1 + 0.2 ...) from losing a step.
    while (this.pendingS >= MODEL_STEP_S - 1e-9) {
      this.pendingS -= MODEL_STEP_S;
      this.stepOnce();
    }
  }

  /**
   * The thermocouple's latest measurement: the lagged chamber temperature plus noise, sampled
   * once per step, so the series depends on simulated time only, never on how often it is read.
   */
  read(): number {
    return this.measuredC;
  }

  /** Advances by `seconds` and reads the thermocouple. */
  step(seconds: number): number {
    this.advance(seconds);
    return this.read();
  }

  private stepOnce(): void {
    const m = FurnaceModel;
    const dt = MODEL_STEP_S;
    this.outputDuty = this.control(this.measuredC, dt);
    const heaterDuty = this.heater === 'stuck-on' ? 1 : this.heater === 'failed' ? 0 : this.outputDuty;
    const netPower = heaterDuty * m.maxPowerW - m.lossWPerK * (this.chamberC - this.ambient);
    this.chamberC += (netPower * dt) / m.heatCapacityJPerK;
    this.sensorC += (this.chamberC - this.sensorC) * Math.min(dt / m.sensorLagS, 1);
    this.measuredC = this.sensorC + gaussian(this.random) * this.noise;
    this.steps++;
  }

  /** The PID controller: derivative on the filtered measurement, integration only while it can act. */
  private control(measured: number, dt: number): number {
    const m = FurnaceModel;
    const previous = this.lastMeasured ?? measured;
    this.lastMeasured = measured;
    const rate = (measured - previous) / dt;
    this.derivative += (rate - this.derivative) * Math.min(dt / m.derivativeFilterS, 1);
    const setpoint = this.workingSetpoint;
    if (setpoint === undefined || this.outputInhibited) {
      this.integral = 0;
      return 0;
    }
    const error = setpoint - measured;
    const unclamped = m.kp * error + m.ki * this.integral - m.kd * this.derivative;
    // Anti-windup: integrate only when the output is not saturated in the direction of the error.
    if ((unclamped < 1 || error < 0) && (unclamped > 0 || error > 0)) this.integral += error * dt;
    return Math.min(Math.max(m.kp * error + m.ki * this.integral - m.kd * this.derivative, 0), 1);
  }
}
