import { Value } from '@sinclair/typebox/value';
import {
  type AgentConfig,
  LineOptionsSchema,
  type LineOptions,
  type ModbusOptions,
  ModbusOptionsSchema,
  type PortConfig,
  PortSchema,
  type SensorConfig,
} from './config-schema.js';
import { type LineParserOptions, TYPE_K_RANGE } from './drivers/line-parser.js';
import { parsePortPath } from './links/port-path.js';
import type { SamplingOptions } from './readings/sampler.js';

// From settings to what runs: every port with the sensors on it, every default filled in. The
// checks the schema cannot make (a sensor on a port that does not exist, two drivers on one
// line) are made here, all at once, in the same `key = value: why` form as the schema's.

/** The name of the top-level `serial` port, which the default sensor uses. */
export const DEFAULT_PORT = 'serial';

export type Driver = 'line' | 'modbus';

export interface Range {
  min?: number;
  max?: number;
}

interface SensorBase {
  id: string;
  port: string;
  unit: string;
  /** Outside it a value is kept but marked uncertain (spec §4); a missing bound is open. */
  range?: Range;
  sampling: SamplingOptions;
}
export type LineSensorPlan = SensorBase & { driver: 'line'; line: LineParserOptions; intervalMs: number };
export type ModbusSensorPlan = SensorBase & { driver: 'modbus'; modbus: ModbusOptions };
export type SensorPlan = LineSensorPlan | ModbusSensorPlan;

export interface PortPlan {
  name: string;
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
  reopenMinMs: number;
  reopenMaxMs: number;
  /** No byte for this long: the port is stalled and reopened (0: never). */
  stallAfterMs: number;
  connectTimeoutMs: number;
  driver: Driver;
  sensors: SensorPlan[];
}

export interface AgentPlan {
  ports: PortPlan[];
  sensors: SensorPlan[];
}

/** Spec §2 and §9: the serial settings each kind of device ships with. */
const DRIVER_LINE_DEFAULTS: Record<Driver, { baudRate: number; parity: 'none' | 'even' }> = {
  line: { baudRate: 9600, parity: 'none' },
  modbus: { baudRate: 19_200, parity: 'even' },
};

const show = (value: unknown) => (value === undefined ? 'missing' : JSON.stringify(value));

/** Records a problem with a setting: its key, the value found and why it cannot be used. */
type Problem = (key: string, value: unknown, why: string) => void;

/** Builds the plan, or returns every problem found. */
export function planAgent(config: AgentConfig): { plan: AgentPlan; problems: [] } | { plan?: undefined; problems: string[] } {
  const problems: string[] = [];
  const problem = (key: string, value: unknown, why: string) => problems.push(`${key} = ${show(value)}: ${why}`);
  if (Object.hasOwn(config.ports, DEFAULT_PORT))
    problem(`ports.${DEFAULT_PORT}`, config.ports[DEFAULT_PORT], 'the name serial is the top-level serial section');
  const seen = new Set<string>();
  const sensors: SensorPlan[] = [];
  config.sensors.forEach((sensor, index) => {
    const key = `sensors.${index}`;
    if (seen.has(sensor.id)) problem(`${key}.id`, sensor.id, 'another sensor has this id');
    seen.add(sensor.id);
    if (sensor.port !== DEFAULT_PORT && !Object.hasOwn(config.ports, sensor.port)) {
      problem(`${key}.port`, sensor.port, `no such port: ${[DEFAULT_PORT, ...Object.keys(config.ports)].join(', ')}`);
    }
    if (sensor.min !== undefined && sensor.max !== undefined && sensor.min >= sensor.max)
      problem(`${key}.min`, sensor.min, `must be below max (${sensor.max})`);
    const planned = planSensor(sensor, key, problem);
    if (planned) sensors.push(planned);
  });
  const ports = planPorts(config, sensors, problem);
  checkMqtt(config, problem);
  return problems.length > 0 ? { problems } : { plan: { ports, sensors }, problems: [] };
}

/** The ports that have sensors on them, each with its driver and line settings; the others are not opened. */
function planPorts(config: AgentConfig, sensors: SensorPlan[], problem: Problem): PortPlan[] {
  const ports: PortPlan[] = [];
  const portConfigs: Array<[string, PortConfig]> = [[DEFAULT_PORT, config.serial], ...Object.entries(config.ports)];
  for (const [name, raw] of portConfigs) {
    const on = sensors.filter((sensor) => sensor.port === name);
    if (on.length === 0) continue; // a port without sensors is not opened
    const key = name === DEFAULT_PORT ? 'serial' : `ports.${name}`;
    const port = Value.Default(PortSchema, structuredClone(raw)) as PortConfig;
    const drivers = [...new Set(on.map((sensor) => sensor.driver))];
    if (drivers.length > 1)
      problem(`${key}`, name, `line and modbus sensors cannot share one port (${on.map((s) => `${s.id}: ${s.driver}`).join(', ')})`);
    if (port.path === undefined) {
      problem(
        `${key}.path`,
        undefined,
        `the port of sensor ${on.map((s) => s.id).join(', ')}: a device path, usb:VID:PID or tcp://host:port`,
      );
      continue;
    }
    const address = parsePortPath(port.path);
    if (typeof address === 'string') problem(`${key}.path`, port.path, address);
    if (port.reopenMinMs > port.reopenMaxMs)
      problem(`${key}.reopenMinMs`, port.reopenMinMs, `must not exceed reopenMaxMs (${port.reopenMaxMs})`);
    const driver = drivers[0] ?? 'line';
    const expectedMs = Math.min(...on.map((sensor) => (sensor.driver === 'line' ? sensor.intervalMs : sensor.modbus.pollMs)));
    ports.push({
      name,
      path: port.path,
      baudRate: port.baudRate ?? DRIVER_LINE_DEFAULTS[driver].baudRate,
      dataBits: port.dataBits,
      parity: port.parity ?? DRIVER_LINE_DEFAULTS[driver].parity,
      stopBits: port.stopBits,
      reopenMinMs: port.reopenMinMs,
      reopenMaxMs: port.reopenMaxMs,
      stallAfterMs: Math.round(port.stallAfterIntervals * expectedMs),
      connectTimeoutMs: port.connectTimeoutMs,
      driver,
      sensors: on,
    });
  }
  return ports;
}

function planSensor(sensor: SensorConfig, key: string, problem: Problem): SensorPlan | undefined {
  const base = { id: sensor.id, port: sensor.port, unit: sensor.unit, sampling: sensor.sampling };
  if (sensor.driver === 'line') {
    if (sensor.modbus !== undefined) problem(`${key}.modbus`, sensor.modbus, 'only for driver modbus');
    const line = Value.Default(LineOptionsSchema, structuredClone(sensor.line ?? {})) as LineOptions;
    // Spec §4: a spec line comes from a type K thermocouple unless the settings say otherwise.
    const range = configuredRange(sensor) ?? (line.format === 'spec' ? { ...TYPE_K_RANGE } : undefined);
    return { ...base, ...(range ? { range } : {}), driver: 'line', intervalMs: line.intervalMs, line: parserOptions(line, range) };
  }
  if (sensor.line !== undefined) problem(`${key}.line`, sensor.line, 'only for driver line');
  if (sensor.modbus === undefined) {
    problem(`${key}.modbus`, undefined, 'a modbus sensor needs at least modbus.slaveId and modbus.register');
    return undefined;
  }
  const modbus = Value.Default(ModbusOptionsSchema, structuredClone(sensor.modbus)) as ModbusOptions;
  const range = configuredRange(sensor);
  return { ...base, ...(range ? { range } : {}), driver: 'modbus', modbus };
}

function configuredRange({ min, max }: SensorConfig): Range | undefined {
  if (min === undefined && max === undefined) return undefined;
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
}

/** Whether `value` lies outside `range` (spec §4: kept, but uncertain). */
export function outOfRange(value: number, range: Range | undefined): boolean {
  return range !== undefined && ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max));
}

function parserOptions(line: LineOptions, range: Range | undefined): LineParserOptions {
  // The parser's own default is type K: give it the sensor's bounds, open where none are set.
  const bounds = { range: { min: range?.min ?? -Infinity, max: range?.max ?? Infinity } };
  switch (line.format) {
    case 'spec':
      return { format: 'spec', checksum: line.checksum, ...bounds };
    case 'number':
      return { format: 'number', ...bounds };
    case 'json':
      return { format: 'json', key: line.key, ...bounds };
    case 'csv':
      return { format: 'csv', column: line.column, separator: line.separator, ...bounds };
  }
}

function checkMqtt(config: AgentConfig, problem: Problem): void {
  const { mqtt } = config;
  const tlsFiles = (['ca', 'cert', 'key'] as const).filter((file) => mqtt.tls[file] !== undefined);
  if (tlsFiles.length > 0 && !/^(mqtts|wss|tls|ssl):\/\//.test(mqtt.url)) {
    problem('mqtt.url', mqtt.url, `mqtt.tls.${tlsFiles[0]} is set: use mqtts:// (or wss://) for TLS`);
  }
  if ((mqtt.tls.cert === undefined) !== (mqtt.tls.key === undefined)) {
    problem(mqtt.tls.cert === undefined ? 'mqtt.tls.cert' : 'mqtt.tls.key', undefined, 'a client certificate needs both cert and key');
  }
  if (mqtt.reconnectMinMs > mqtt.reconnectMaxMs)
    problem('mqtt.reconnectMinMs', mqtt.reconnectMinMs, `must not exceed mqtt.reconnectMaxMs (${mqtt.reconnectMaxMs})`);
  if (mqtt.password !== undefined && mqtt.username === undefined)
    problem('mqtt.username', undefined, 'mqtt.password is set: give the user name too');
  const { confirm } = config;
  if (confirm.timeoutMs > confirm.maxTimeoutMs)
    problem('confirm.timeoutMs', confirm.timeoutMs, `must not exceed confirm.maxTimeoutMs (${confirm.maxTimeoutMs})`);
}
