// hardware/: the sensor side, emulated: what the stack uses to run a furnace in process. The protocols are specified in README.md.
export { LineEmulator, type LineEmulatorOptions } from './line-emulator.js';
export { parseScenario } from './scenario.js';
export { openInProcessTransport, type InProcessTransport } from './transports/in-process-transport.js';
export { HardwareError, type HardwareErrorCode } from './errors.js';
