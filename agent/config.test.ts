import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { SettingsError } from '../contract/index.js';
import { loadAgentConfig, maskSecrets } from './config.js';
import { AgentConfigSchema } from './config-schema.js';
import { planAgent } from './sensor-plan.js';

describe('agent settings', () => {
  let dir: string;
  const yaml = (text: string) => {
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, text);
    return file;
  };
  const problems = (load: () => unknown): string[] => {
    try {
      load();
    } catch (error) {
      if (error instanceof SettingsError) return error.problems;
      throw error;
    }
    throw new Error('the settings were accepted');
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes serial.path alone one line sensor tc1 in °C, with the type K range, at 9600 8N1', () => {
    const config = loadAgentConfig(undefined, {}, { device: 'furnace-1', 'serial.path': '/dev/ttyUSB0' });
    const { plan } = planAgent(config);
    expect(plan?.sensors).toEqual([
      expect.objectContaining({ id: 'tc1', port: 'serial', unit: 'C', driver: 'line', range: { min: -200, max: 1372 }, intervalMs: 1000 }),
    ]);
    expect(plan?.ports).toEqual([
      expect.objectContaining({
        name: 'serial',
        path: '/dev/ttyUSB0',
        baudRate: 9600,
        parity: 'none',
        dataBits: 8,
        stopBits: 1,
        stallAfterMs: 5000,
      }),
    ]);
    expect(config.health).toEqual({ enabled: true, host: '0.0.0.0', port: 9100 });
  });

  it('reads several sensors on several ports, Modbus ones at 19200 8E1 by default', () => {
    const file = yaml(`
device: kiln-2
serial: { path: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0 }
ports:
  rs485: { path: usb:1a86:7523, stallAfterIntervals: 10 }
  gateway: { path: "tcp://10.0.0.9:4001", baudRate: 9600, parity: none }
sensors:
  - { id: tc1 }
  - id: zone1
    port: rs485
    driver: modbus
    min: 0
    max: 1300
    modbus: { slaveId: 1, register: 0, scale: 0.1, noValue: -32768, pollMs: 500 }
    sampling: { deadband: 0.5, heartbeatMs: 60000 }
  - id: zone2
    port: rs485
    driver: modbus
    modbus: { slaveId: 2, register: 1, type: float32 }
  - id: amb
    port: gateway
    unit: C
    line: { format: csv, column: 2 }
`);
    const { plan } = planAgent(loadAgentConfig(file, {}));
    expect(plan?.ports.map((port) => [port.name, port.driver, port.baudRate, port.parity, port.stallAfterMs])).toEqual([
      ['serial', 'line', 9600, 'none', 5000],
      ['rs485', 'modbus', 19_200, 'even', 5000],
      ['gateway', 'line', 9600, 'none', 5000],
    ]);
    const zone1 = plan?.sensors.find((sensor) => sensor.id === 'zone1');
    expect(zone1).toMatchObject({ range: { min: 0, max: 1300 }, sampling: { deadband: 0.5, heartbeatMs: 60_000, minIntervalMs: 0 } });
    expect(zone1).toMatchObject({ modbus: { slaveId: 1, table: 'input', type: 'int16', scale: 0.1, timeoutMs: 500, retries: 2 } });
    expect(plan?.sensors.find((sensor) => sensor.id === 'amb')).toMatchObject({ line: { format: 'csv', column: 2, separator: ',' } });
    expect(plan?.sensors.find((sensor) => sensor.id === 'amb')?.range).toBeUndefined();
  });

  it('reports every cross-setting problem at once, naming each key', () => {
    const file = yaml(`
device: kiln-2
ports:
  bus: { path: "tcp://nowhere" }
sensors:
  - { id: tc1, port: nope }
  - { id: tc1, port: bus }
  - { id: m1, port: bus, driver: modbus }
  - { id: m3, port: bus, driver: modbus, modbus: { slaveId: 1, register: 0 } }
  - { id: m2, port: serial, driver: modbus, line: { format: spec }, modbus: { slaveId: 3, register: 0 }, min: 5, max: 1 }
mqtt: { url: "mqtt://broker:1883", tls: { ca: /etc/ca.pem, cert: /etc/agent.pem }, password: secret }
`);
    const found = problems(() => loadAgentConfig(file, {}));
    const keys = found.map((problem) => problem.split(' = ')[0]);
    expect(keys).toEqual(
      expect.arrayContaining([
        'sensors.0.port',
        'sensors.1.id',
        'sensors.2.modbus',
        'sensors.4.line',
        'sensors.4.min',
        'serial.path',
        'ports.bus',
        'ports.bus.path',
        'mqtt.url',
        'mqtt.tls.key',
        'mqtt.username',
      ]),
    );
    expect(found.find((problem) => problem.startsWith('ports.bus.path'))).toContain('tcp://host:port');
    expect(found.every((problem) => problem.endsWith(`[from file ${file}]`))).toBe(true);
  });

  it('takes scalar settings from the environment, and reports a bad one with where it came from', () => {
    const env = { FURNACE_AGENT_DEVICE: 'f-9', FURNACE_AGENT_SERIAL_PATH: 'tcp://127.0.0.1:5020', FURNACE_AGENT_HEALTH_PORT: '0' };
    expect(loadAgentConfig(undefined, env).health.port).toBe(0);
    const found = problems(() => loadAgentConfig(undefined, { ...env, FURNACE_AGENT_REPLAY_MAX_READINGS_PER_SECOND: 'fast' }));
    expect(found).toEqual([
      expect.stringMatching(/^replay\.maxReadingsPerSecond = "fast": .*environment FURNACE_AGENT_REPLAY_MAX_READINGS_PER_SECOND/),
    ]);
  });

  it('masks the password, also one inside the broker URL', () => {
    const config = loadAgentConfig(
      undefined,
      {},
      {
        device: 'f',
        'serial.path': '/dev/ttyS0',
        'mqtt.url': 'mqtts://agent:hunter2@broker:8883',
        'mqtt.username': 'f',
        'mqtt.password': 's3cret',
      },
    );
    const shown = JSON.stringify(maskSecrets(config));
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('s3cret');
    expect(maskSecrets(config).mqtt).toMatchObject({ url: 'mqtts://agent:********@broker:8883', password: '********', username: 'f' });
    expect(config.mqtt.password).toBe('s3cret'); // the settings in force are untouched
  });

  it('still takes mqtt.keepaliveS (file) and FURNACE_AGENT_MQTT_KEEPALIVE_S, each with a warning naming the new name', () => {
    const base = { FURNACE_AGENT_DEVICE: 'f1', FURNACE_AGENT_SERIAL_PATH: '/dev/ttyUSB0' };
    const warnings: string[] = [];
    const warn = (deprecation: { message: string }) => warnings.push(deprecation.message);
    const file = yaml('mqtt:\n  keepaliveS: 45\n');
    expect(loadAgentConfig(file, base, {}, warn).mqtt.keepaliveSeconds).toBe(45);
    expect(loadAgentConfig(undefined, { ...base, FURNACE_AGENT_MQTT_KEEPALIVE_S: '20' }, {}, warn).mqtt.keepaliveSeconds).toBe(20);
    expect(warnings).toEqual([
      `mqtt.keepaliveS in ${file} is deprecated: rename it to mqtt.keepaliveSeconds (the old name still works for now)`,
      expect.stringMatching(
        /^environment variable FURNACE_AGENT_MQTT_KEEPALIVE_S is deprecated: rename it to FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS/,
      ),
    ]);
    expect(loadAgentConfig(undefined, { ...base, FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS: '25' }, {}, warn).mqtt.keepaliveSeconds).toBe(25);
    expect(warnings).toHaveLength(2); // the new names alone say nothing
  });

  it('confirms end to end by default, and refuses a confirmation timeout past its maximum, naming both', () => {
    const defaults = loadAgentConfig(undefined, { FURNACE_AGENT_DEVICE: 'f1', FURNACE_AGENT_SERIAL_PATH: '/dev/ttyUSB0' });
    expect(defaults.confirm).toEqual({ by: 'backend', timeoutMs: 15_000, maxTimeoutMs: 600_000 });
    const found = problems(() =>
      loadAgentConfig(undefined, {
        FURNACE_AGENT_DEVICE: 'f1',
        FURNACE_AGENT_SERIAL_PATH: '/dev/ttyUSB0',
        FURNACE_AGENT_CONFIRM_TIMEOUT_MS: '90000',
        FURNACE_AGENT_CONFIRM_MAX_TIMEOUT_MS: '60000',
      }),
    );
    expect(found.join('\n')).toMatch(/confirm\.timeoutMs = 90000: must not exceed confirm\.maxTimeoutMs \(60000\)/);
    expect(
      problems(() => loadAgentConfig(undefined, { FURNACE_AGENT_DEVICE: 'f1', FURNACE_AGENT_CONFIRM_BY: 'nobody' })).join('\n'),
    ).toMatch(/confirm\.by/);
  });

  it('has an example file that loads and documents every key', () => {
    const example = new URL('./agent.example.yaml', import.meta.url).pathname;
    const { plan } = planAgent(loadAgentConfig(example, {}));
    expect(plan?.sensors.map((sensor) => sensor.id)).toEqual(['tc1', 'zone1', 'zone2', 'ambient']);
    const keys = new Set<string>();
    const walk = (schema: TSchema): void => {
      if (TypeGuard.IsArray(schema)) return walk(schema.items);
      if (TypeGuard.IsRecord(schema)) return Object.values(schema.patternProperties).forEach((child) => walk(child));
      if (!TypeGuard.IsObject(schema)) return;
      for (const [key, child] of Object.entries(schema.properties)) {
        keys.add(key);
        walk(child);
      }
    };
    walk(AgentConfigSchema);
    const text = readFileSync(example, 'utf8');
    expect([...keys].filter((key) => !new RegExp(`^\\s*(- )?${key}:|[{,] ${key}:`, 'm').test(text))).toEqual([]);
  });
});
