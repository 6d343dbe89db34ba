import { autoDetect } from '@serialport/bindings-cpp';
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Logger } from 'pino';
import { LinePortDriver } from './line-driver.js';
import { LineSource } from './line-source.js';
import { createLink } from '../links/link-factory.js';
import { ModbusBusDriver } from './modbus-driver.js';
import { isListingImpossible, listPorts, parsePortPath } from '../links/port-path.js';
import type { SensorDriver, SensorSink } from './sensor-events.js';
import { DEFAULT_PORT, type LineSensorPlan, type PortPlan } from '../sensor-plan.js';

/** The setting a port's path came from, for error messages. */
export function pathSetting(port: PortPlan): string {
  return port.name === DEFAULT_PORT ? 'serial.path' : `ports.${port.name}.path`;
}

/** One driver per port: the line driver for line sensors, the Modbus master for a bus. */
export function createDrivers(ports: readonly PortPlan[], sink: SensorSink, log: Logger, binding?: BindingInterface): SensorDriver[] {
  return ports.map((port) => {
    const portLog = log.child({ component: `agent:${port.driver}`, port: port.name });
    const link = createLink({ ...port, setting: pathSetting(port) }, portLog, binding);
    switch (port.driver) {
      case 'line': {
        const sensors = port.sensors.filter((sensor): sensor is LineSensorPlan => sensor.driver === 'line');
        return new LinePortDriver(new LineSource(link), sensors, sink, port.stallAfterMs);
      }
      case 'modbus':
        return new ModbusBusDriver(port, link, sink, portLog);
    }
  });
}

/**
 * Ports given by USB id need serialport's port listing, which on Linux needs udevadm: checked
 * once at start-up, so a machine that can never list ports says so at once, naming the setting,
 * instead of retrying for ever.
 */
export async function checkPortListing(ports: readonly PortPlan[], binding?: BindingInterface): Promise<void> {
  const usb = ports.filter((port) => {
    const address = parsePortPath(port.path);
    return typeof address !== 'string' && address.kind === 'usb';
  });
  const first = usb[0];
  if (!first) return;
  try {
    await listPorts(binding ?? autoDetect(), pathSetting(first), first.path);
  } catch (error) {
    // Only "never": a listing that failed once for another reason is retried at each reopen.
    if (isListingImpossible((error as Error).cause)) throw error;
  }
}
