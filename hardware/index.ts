// hardware/: the sensor side, emulated. The protocols are specified in README.md.
export { FurnaceModel, type FurnaceModelOptions, type HeaterState, MODEL_STEP_S } from './furnace-model.js';
export { FiringProgram, type ProgramSegment, parseProgram, STANDARD_FIRING } from './firing-program.js';
export { Furnace, type FurnaceOptions, type SensorFault, type SensorSample } from './furnace.js';
export { FAULT_KINDS, type FaultKind, type ScenarioEvent, Timeline, parseScenario } from './scenario.js';
export { LineEmulator, type LineEmulatorOptions } from './line-emulator.js';
export { formatSensorLine, lineChecksum } from './line-protocol.js';
export { ModbusEmulator, type ModbusEmulatorOptions } from './modbus-emulator.js';
export { crc16Modbus } from './modbus/crc16.js';
export { HardwareError, type HardwareErrorCode } from './errors.js';
export type { EmulatorTransport } from './transports/transport.js';
export { openPtyTransport, type PtyTransportOptions } from './transports/pty-transport.js';
export { openTcpTransport, type TcpTransport, type TcpTransportOptions } from './transports/tcp-transport.js';
export { openInProcessTransport, type InProcessTransport } from './transports/in-process-transport.js';
export { openStdioTransport } from './transports/stdio-transport.js';
