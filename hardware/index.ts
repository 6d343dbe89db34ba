// hardware/: the sensor side, emulated.
export { FurnaceModel, type FurnaceModelOptions } from './furnace-model.js';
export { LineEmulator, type LineEmulatorOptions } from './emulator.js';
export { formatTemperatureLine, formatFaultLine, type SensorFault } from './line-protocol.js';
export { HardwareError, type HardwareErrorCode } from './errors.js';
export type { EmulatorTransport } from './transports/transport.js';
export { openPtyTransport, type PtyTransportOptions } from './transports/pty-transport.js';
export { openInProcessTransport, type InProcessTransport } from './transports/in-process-transport.js';
