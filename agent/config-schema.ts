import { type Static, Type } from '@sinclair/typebox';
import { SEGMENT_PATTERN } from '../contract/index.js';
import { LogLevelSetting } from '../contract/settings.js';

// The agent's settings, one schema: defaults, descriptions (shown in every error message) and,
// through contract/settings.ts, the environment variable of each scalar key. Lists (`sensors`)
// and maps (`ports`) come from the YAML file only. agent.example.yaml documents every key.

const idRule = '1 to 64 characters of A-Z a-z 0-9 _ -';
const ms = (description: string, defaultMs: number, maximum = 86_400_000) =>
  Type.Integer({ minimum: 0, maximum, default: defaultMs, description: `${description}, in ms` });

/** One serial line (or serial-over-IP connection) and how to keep it open. */
export const PortSchema = Type.Object(
  {
    path: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'a device path (/dev/ttyUSB0, /dev/serial/by-id/...), usb:VID:PID (e.g. usb:0403:6001) or tcp://host:port',
      }),
    ),
    baudRate: Type.Optional(
      Type.Integer({ minimum: 50, maximum: 4_000_000, description: 'line speed in baud; default 9600 for line sensors, 19200 for Modbus' }),
    ),
    dataBits: Type.Union([Type.Literal(7), Type.Literal(8)], { default: 8, description: 'data bits: 7 or 8' }),
    parity: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('even'), Type.Literal('odd')], {
        description: 'none, even or odd; default none for line sensors, even for Modbus (8E1)',
      }),
    ),
    stopBits: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 1, description: 'stop bits: 1 or 2' }),
    reopenMinMs: Type.Integer({
      minimum: 10,
      maximum: 600_000,
      default: 250,
      description: 'first wait before reopening a failed or stalled port, in ms',
    }),
    reopenMaxMs: Type.Integer({
      minimum: 100,
      maximum: 600_000,
      default: 30_000,
      description: 'longest wait between two attempts to reopen a failed or stalled port, in ms',
    }),
    stallAfterIntervals: Type.Number({
      minimum: 0,
      maximum: 10_000,
      default: 5,
      description: 'an open port that delivers no byte for this many expected intervals is stalled and reopened (0: never)',
    }),
    connectTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 600_000,
      default: 5000,
      description: 'tcp:// only: how long a connection attempt may take, in ms',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type PortConfig = Static<typeof PortSchema>;

/** Spec §3 to §8: which lines a line sensor reads. */
export const LineOptionsSchema = Type.Object(
  {
    format: Type.Union([Type.Literal('spec'), Type.Literal('number'), Type.Literal('json'), Type.Literal('csv')], {
      default: 'spec',
      description: 'spec (T=812.5,CJ=24.1, hardware spec §3), number, json or csv (spec §8)',
    }),
    checksum: Type.Union([Type.Literal('optional'), Type.Literal('required')], {
      default: 'optional',
      description: 'spec format: optional (checked when present) or required (spec §6)',
    }),
    key: Type.String({ minLength: 1, default: 'T', description: 'json format: the key of the value' }),
    column: Type.Integer({ minimum: 0, maximum: 255, default: 1, description: 'csv format: the field of the value, 0 is the first' }),
    separator: Type.String({ minLength: 1, maxLength: 1, default: ',', description: 'csv format: the field separator' }),
    intervalMs: Type.Integer({
      minimum: 1,
      maximum: 86_400_000,
      default: 1000,
      description: 'how often the device sends a line, in ms (for the stall watchdog)',
    }),
  },
  { additionalProperties: false },
);
export type LineOptions = Static<typeof LineOptionsSchema>;

/** Spec §9 to §16: one register (or two, for 32-bit types) of one slave, polled. */
export const ModbusOptionsSchema = Type.Object(
  {
    slaveId: Type.Integer({ minimum: 1, maximum: 247, description: 'slave address, 1 to 247 (spec §9)' }),
    register: Type.Integer({ minimum: 0, maximum: 65_535, description: '0-based protocol address of the (first) register' }),
    table: Type.Union([Type.Literal('input'), Type.Literal('holding')], {
      default: 'input',
      description: 'input (function 04) or holding (function 03) registers',
    }),
    type: Type.Union(
      [Type.Literal('int16'), Type.Literal('uint16'), Type.Literal('int32'), Type.Literal('uint32'), Type.Literal('float32')],
      {
        default: 'int16',
        description: 'int16, uint16, int32, uint32 or float32 (32-bit types span two registers)',
      },
    ),
    byteOrder: Type.Union([Type.Literal('big'), Type.Literal('little')], {
      default: 'big',
      description: 'bytes within a register: big (Modbus) or little',
    }),
    wordOrder: Type.Union([Type.Literal('big'), Type.Literal('little')], {
      default: 'big',
      description: '32-bit types: big (high word first, spec §12) or little',
    }),
    scale: Type.Number({ default: 1, description: 'value = raw × scale + offset (0.1 for tenths)' }),
    offset: Type.Number({ default: 0, description: 'value = raw × scale + offset' }),
    noValue: Type.Optional(Type.Number({ description: 'a raw value meaning "no value" (-32768 for 0x8000, spec §12): a bad reading' })),
    pollMs: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 1000, description: 'how often the register is read, in ms' }),
    timeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 500, description: 'how long to wait for an answer, in ms' }),
    retries: Type.Integer({ minimum: 0, maximum: 10, default: 2, description: 'requests repeated after a timeout or CRC error' }),
  },
  { additionalProperties: false },
);
export type ModbusOptions = Static<typeof ModbusOptionsSchema>;

export const SamplingSchema = Type.Object(
  {
    minIntervalMs: ms('readings closer than this to the last one kept are dropped', 0),
    deadband: Type.Number({
      minimum: 0,
      default: 0,
      description: 'changes smaller than this from the last value kept are dropped (0: none)',
    }),
    heartbeatMs: ms('a reading is kept at least this often, changed or not (0: no heartbeat)', 0),
  },
  { additionalProperties: false, default: {} },
);

export const SensorSchema = Type.Object(
  {
    id: Type.String({ pattern: SEGMENT_PATTERN, description: `sensor id: ${idRule}` }),
    port: Type.String({ pattern: SEGMENT_PATTERN, default: 'serial', description: 'the port it is on: serial, or a name under ports' }),
    unit: Type.String({ minLength: 1, maxLength: 16, default: 'C', description: 'unit of the values' }),
    min: Type.Optional(Type.Number({ description: 'lowest valid value; below it a reading is uncertain (default for spec lines: -200)' })),
    max: Type.Optional(Type.Number({ description: 'highest valid value; above it a reading is uncertain (default for spec lines: 1372)' })),
    driver: Type.Union([Type.Literal('line'), Type.Literal('modbus')], { default: 'line', description: 'line or modbus' }),
    line: Type.Optional(LineOptionsSchema),
    modbus: Type.Optional(ModbusOptionsSchema),
    sampling: SamplingSchema,
  },
  { additionalProperties: false },
);
export type SensorConfig = Static<typeof SensorSchema>;

export const AgentConfigSchema = Type.Object(
  {
    device: Type.String({ pattern: SEGMENT_PATTERN, description: `this furnace's device id: ${idRule}` }),
    dataDir: Type.String({ minLength: 1, default: './data/agent', description: 'folder of the durable outbox' }),
    logLevel: LogLevelSetting,
    serial: PortSchema,
    ports: Type.Record(Type.String({ pattern: SEGMENT_PATTERN }), PortSchema, {
      default: {},
      description: 'more serial lines by name, beside serial',
    }),
    sensors: Type.Array(SensorSchema, {
      minItems: 1,
      maxItems: 256,
      default: [{ id: 'tc1' }],
      description: 'the sensors read; by default one line sensor tc1 (C) on serial',
    }),
    outbox: Type.Object(
      {
        maxReadings: Type.Integer({
          minimum: 1,
          maximum: 1_000_000_000,
          default: 5_000_000,
          description: 'readings kept at most while the broker is away',
        }),
        maxAgeMs: Type.Integer({ minimum: 1000, default: 30 * 86_400_000, description: 'readings older than this are dropped, in ms' }),
        whenFull: Type.Union([Type.Literal('drop-oldest'), Type.Literal('drop-newest')], {
          default: 'drop-oldest',
          description: 'drop-oldest or drop-newest',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        url: Type.String({
          pattern: '^(mqtts?|wss?|tcp|tls|ssl)://',
          default: 'mqtt://localhost:1883',
          description: 'broker URL, mqtt:// or mqtts://',
        }),
        username: Type.Optional(Type.String({ minLength: 1, description: 'broker user name' })),
        password: Type.Optional(Type.String({ description: 'broker password' })),
        clientId: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 128,
            description: 'MQTT client id (default: the user name if set, else furnace-agent-DEVICE)',
          }),
        ),
        tls: Type.Object(
          {
            ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA that signed the broker certificate' })),
            cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of this agent client certificate' })),
            key: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the client certificate private key' })),
            rejectUnauthorized: Type.Boolean({ default: true, description: 'refuse a broker whose certificate does not verify' }),
          },
          { additionalProperties: false, default: {} },
        ),
        keepaliveSeconds: Type.Integer({
          minimum: 5,
          maximum: 3600,
          default: 30,
          description: 'MQTT keepalive, in seconds (formerly keepaliveS)',
        }),
        connectTimeoutMs: Type.Integer({
          minimum: 500,
          maximum: 600_000,
          default: 10_000,
          description: 'how long a connection attempt may take, in ms',
        }),
        reconnectMinMs: Type.Integer({
          minimum: 10,
          maximum: 600_000,
          default: 1000,
          description: 'first wait before reconnecting, in ms',
        }),
        reconnectMaxMs: Type.Integer({
          minimum: 10,
          maximum: 600_000,
          default: 60_000,
          description: 'longest wait between reconnection attempts, in ms',
        }),
        batchMaxReadings: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'readings per batch at most' }),
        batchIntervalMs: Type.Integer({
          minimum: 0,
          maximum: 60_000,
          default: 1000,
          description: 'longest wait before a partial batch is sent, in ms',
        }),
        ackTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 600_000,
          default: 30_000,
          description: 'how long a batch waits for its PUBACK before it is offered again, in ms',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    confirm: Type.Object(
      {
        by: Type.Union([Type.Literal('backend'), Type.Literal('broker')], {
          default: 'backend',
          description:
            'backend: a reading is forgotten once the backend confirms it stored it (telemetry/v1/DEVICE/stored), end to end with any broker; broker: at the broker acknowledgement (a plant without this backend)',
        }),
        timeoutMs: Type.Integer({
          minimum: 1000,
          maximum: 86_400_000,
          default: 15_000,
          description:
            'confirm.by backend: a reading still unconfirmed this long after the broker took it is sent again, in ms; each further send waits twice as long',
        }),
        maxTimeoutMs: Type.Integer({
          minimum: 1000,
          maximum: 86_400_000,
          default: 600_000,
          description: 'the longest wait before a reading is sent again, in ms',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    replay: Type.Object(
      {
        maxReadingsPerSecond: Type.Integer({
          minimum: 0,
          maximum: 1_000_000,
          default: 1000,
          description: 'backlog sent after an outage at most this fast (0: no limit)',
        }),
        batchMaxReadings: Type.Integer({ minimum: 1, maximum: 1000, default: 500, description: 'readings per backlog batch at most' }),
      },
      { additionalProperties: false, default: {} },
    ),
    health: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'serve /healthz and /metrics' }),
        host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'address of the health server' }),
        port: Type.Integer({ minimum: 0, maximum: 65_535, default: 9100, description: 'port of the health server (0: any free port)' }),
      },
      { additionalProperties: false, default: {} },
    ),
    shutdown: Type.Object(
      {
        flushMs: Type.Integer({
          minimum: 0,
          maximum: 60_000,
          default: 3000,
          description:
            'on SIGTERM, how long to keep sending what waits and, with confirm.by backend, to wait for the backend to confirm it, in ms',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfigSchema>;
