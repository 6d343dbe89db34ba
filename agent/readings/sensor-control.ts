import { AgentError } from '../errors.js';
import { ModbusBusDriver } from '../drivers/modbus-driver.js';
import type { ReadingPipeline } from './reading-pipeline.js';
import type { TakenReading } from './reading-waiters.js';
import type { SensorDriver } from '../drivers/sensor-events.js';
import type { PortPlan, SensorPlan } from '../sensor-plan.js';

/** The setting a run-time interval stands in for: a Modbus poll period, or a line sensor's sampling. */
export type IntervalSetting = 'modbus.pollMs' | 'sampling.minIntervalMs';

export interface SensorInterval {
  intervalMs: number;
  setting: IntervalSetting;
}

/**
 * What commands may do to the sensors while the agent runs: read one now, change how often one
 * is read. Joins the drivers (a Modbus bus polls on demand) and the reading pipeline (sampling,
 * the outbox); neither knows of commands.
 */
export class SensorControl {
  private readonly buses = new Map<string, ModbusBusDriver>();
  private readonly plans: ReadonlyMap<string, SensorPlan>;

  constructor(
    sensors: readonly SensorPlan[],
    ports: readonly PortPlan[],
    /** One per port, in the order of `ports` (createDrivers). */
    drivers: readonly SensorDriver[],
    private readonly pipeline: ReadingPipeline,
  ) {
    this.plans = new Map(sensors.map((sensor) => [sensor.id, sensor]));
    ports.forEach((port, i) => {
      const driver = drivers[i];
      if (!(driver instanceof ModbusBusDriver)) return;
      for (const sensor of port.sensors) this.buses.set(sensor.id, driver);
    });
  }

  /** The sensors, in the order of the settings (the first is read-now's default). */
  get ids(): string[] {
    return [...this.plans.keys()];
  }

  has(sensorId: string): boolean {
    return this.plans.has(sensorId);
  }

  /**
   * A reading of the sensor taken now, committed to the outbox whatever the sampling settings
   * say (so it is also published as usual). A Modbus sensor is polled at once; a line sensor's
   * device talks at its own rate, so its next line is the reading. Rejects when `signal` aborts
   * (the caller's deadline), or when a poll gives no reading (the Modbus failure's code).
   */
  async readNow(sensorId: string, signal: AbortSignal): Promise<TakenReading> {
    const wait = this.pipeline.nextReading(sensorId);
    const aborted = untilAborted(signal);
    try {
      const bus = this.buses.get(sensorId);
      if (bus) {
        const polled = await Promise.race([bus.pollNow(sensorId), aborted]);
        if (!polled.ok) throw new AgentError(polled.code, `sensor ${sensorId}: ${polled.message}`);
      }
      return await Promise.race([wait.reading, aborted]);
    } finally {
      wait.cancel();
      aborted.dispose();
    }
  }

  interval(sensorId: string): SensorInterval | undefined {
    const bus = this.buses.get(sensorId);
    const intervalMs = bus ? bus.pollMs(sensorId) : this.pipeline.minIntervalMs(sensorId);
    if (intervalMs === undefined) return undefined;
    return { intervalMs, setting: bus ? 'modbus.pollMs' : 'sampling.minIntervalMs' };
  }

  /**
   * Changes how often a sensor is read, until the agent stops (the settings file stays the truth
   * at the next start): a Modbus sensor's poll period; a line sensor's sampling minimum interval,
   * since the device's own line rate is not ours to change (and its stall watchdog keeps that rate).
   * Returns the previous interval, `undefined` for an unknown sensor.
   */
  setInterval(sensorId: string, intervalMs: number): { previous: SensorInterval; current: SensorInterval } | undefined {
    const previous = this.interval(sensorId);
    if (!previous) return undefined;
    const bus = this.buses.get(sensorId);
    if (bus) bus.setPollInterval(sensorId, intervalMs);
    else this.pipeline.setMinInterval(sensorId, intervalMs);
    return { previous, current: { intervalMs, setting: previous.setting } };
  }
}

/** A promise that rejects with the signal's reason once it aborts; `dispose` stops listening. */
export function untilAborted(signal: AbortSignal): Promise<never> & { dispose(): void } {
  let listener: () => void = () => undefined;
  const promise = new Promise<never>((_, reject) => {
    listener = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    if (signal.aborted) listener();
    else signal.addEventListener('abort', listener, { once: true });
  });
  // Nobody may be racing it any more when it rejects: that is not an unhandled rejection.
  promise.catch(() => undefined);
  return Object.assign(promise, { dispose: () => signal.removeEventListener('abort', listener) });
}
