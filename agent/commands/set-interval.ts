import type { SensorControl } from '../readings/sensor-control.js';
import { type CommandHandler, noSuchSensor, ok } from './handler.js';

/**
 * set-interval {sensor, intervalMs}: how often the sensor is read, from now until the agent stops.
 * Not kept across a restart: the settings file stays the truth, so a change an operator wants to
 * keep goes there (the reply says `persisted: false`, and which setting the change stands in for).
 * A Modbus sensor is polled at the new period; a line sensor's device sends at its own rate, so
 * its sampling minimum interval changes instead (a value below the device's rate keeps every line).
 */
export function setIntervalHandler(control: SensorControl): CommandHandler<'set-interval'> {
  return ({ sensor, intervalMs }) => {
    const changed = control.setInterval(sensor, intervalMs);
    if (!changed) return noSuchSensor('sensor', sensor, control.ids);
    return ok({ sensor, intervalMs, previousMs: changed.previous.intervalMs, setting: changed.current.setting, persisted: false });
  };
}
