import type { SensorControl } from '../readings/sensor-control.js';
import type { SensorHealthBoard } from '../readings/sensor-health.js';
import { type CommandHandler, noSuchSensor, ok } from './handler.js';

/**
 * read-now {sensor?}: a reading of the sensor taken now (the first sensor by default), stored and
 * published as usual, returned with its seq when the outbox kept it and the sensor's state. A
 * Modbus sensor is polled at once; a line sensor's next line is taken, whatever the sampling
 * settings would have done with it. A Modbus poll that gives no reading fails with its code
 * (AGENT_MODBUS_TIMEOUT, ...); no reading by the deadline fails with AGENT_COMMAND_TIMED_OUT.
 */
export function readNowHandler(control: SensorControl, board: SensorHealthBoard): CommandHandler<'read-now'> {
  return async ({ sensor }, { signal, waitingFor }) => {
    const id = sensor ?? control.ids[0];
    if (id === undefined || !control.has(id)) return noSuchSensor('sensor', id ?? '', control.ids);
    waitingFor(() => {
      const state = board.get(id);
      return `no reading of ${id} came (sensor ${state?.state ?? 'unknown'}${state?.reason ? `: ${state.reason}` : ''})`;
    });
    const reading = await control.readNow(id, signal);
    const state = board.get(id);
    return ok({ ...reading, state: state?.state, ...(state?.reason === undefined ? {} : { reason: state.reason }) });
  };
}
