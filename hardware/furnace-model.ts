import { gaussian, seededRandom } from './random.js';

export interface FurnaceModelOptions {
  seed: number;
  /** °C of the room around the furnace. */
  ambient?: number;
  /** °C the controller holds. */
  setpoint?: number;
  /** °C of measurement noise (one standard deviation). */
  noise?: number;
}

/**
 * A lumped thermal model of a furnace under a PI controller: heater power toward the
 * setpoint, loss to ambient in proportion to the difference, a thermocouple that lags the
 * chamber, and noise. It advances in fixed steps of simulated time, so a seed fixes the
 * whole series whatever the timing of the machine. The hardware issue adds firing programs
 * and faults on top of it.
 */
export class FurnaceModel {
  private chamber: number;
  private sensor: number;
  private integral = 0;
  private readonly random: () => number;
  private readonly ambient: number;
  private readonly setpoint: number;
  private readonly noise: number;

  // An empty 10 kW kiln: about two simulated hours to 850 °C (two real minutes at --speed 60), then it holds.
  private static readonly maxPowerW = 10_000;
  private static readonly heatCapacityJPerK = 50_000;
  private static readonly lossWPerK = 8;
  private static readonly sensorLagS = 5;
  private static readonly kp = 0.05;
  private static readonly ki = 0.0005;

  constructor(options: FurnaceModelOptions) {
    this.random = seededRandom(options.seed);
    this.ambient = options.ambient ?? 20;
    this.setpoint = options.setpoint ?? 850;
    this.noise = options.noise ?? 0.3;
    this.chamber = this.ambient;
    this.sensor = this.ambient;
  }

  /** Advances the model by `seconds` of simulated time and returns the sensor's reading in °C. */
  step(seconds: number): number {
    const m = FurnaceModel;
    const error = this.setpoint - this.chamber;
    this.integral = Math.min(Math.max(this.integral + error * seconds, -1 / m.ki), 1 / m.ki);
    const duty = Math.min(Math.max(m.kp * error + m.ki * this.integral, 0), 1);
    const netPower = duty * m.maxPowerW - m.lossWPerK * (this.chamber - this.ambient);
    this.chamber += (netPower * seconds) / m.heatCapacityJPerK;
    this.sensor += ((this.chamber - this.sensor) * Math.min(seconds / m.sensorLagS, 1));
    return this.sensor + gaussian(this.random) * this.noise;
  }
}
