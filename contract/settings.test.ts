import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContractError, SettingsError, envName, loadSettings, type SettingsSources } from './index.js';

// A small settings schema in the style of a part's: a nested object, an integer with a
// default, booleans, strings with a pattern, and no unknown keys anywhere.
const Schema = Type.Object(
  {
    mqtt: Type.Object(
      {
        url: Type.String({
          pattern: '^mqtts?://',
          default: 'mqtt://localhost:1883',
          description: 'an mqtt:// or mqtts:// URL',
        }),
        batchIntervalMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
        clean: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    deviceId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'furnace-1' }),
    verbose: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

const DEFAULTS = {
  mqtt: { url: 'mqtt://localhost:1883', batchIntervalMs: 1000, clean: true },
  deviceId: 'furnace-1',
  verbose: false,
};

const PREFIX = 'FURNACE_AGENT';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'contract-settings-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(text: string, name = 'agent.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Loads with no process environment unless one is given, so the host cannot leak in. */
function load(sources: Partial<SettingsSources> = {}) {
  return loadSettings(Schema, { envPrefix: PREFIX, env: {}, ...sources });
}

function settingsError(run: () => unknown): SettingsError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SettingsError);
  expect(caught).toBeInstanceOf(ContractError);
  const error = caught as SettingsError;
  expect(error.code).toBe('CONTRACT_SETTINGS_INVALID');
  expect(error.name).toBe('SettingsError');
  expect(error.problems.length).toBeGreaterThan(0);
  for (const problem of error.problems) expect(error.message).toContain(problem);
  return error;
}

/** The one problem that names this key, as `key = value: ...`. */
function problemFor(error: SettingsError, key: string): string {
  const found = error.problems.filter((problem) => problem.startsWith(`${key} = `));
  expect(found, `a problem for ${key} in:\n${error.problems.join('\n')}`).toHaveLength(1);
  return found[0] ?? '';
}

describe('envName', () => {
  it('turns a key path into an environment variable name', () => {
    expect(envName('FURNACE_AGENT', ['mqtt', 'batchIntervalMs'])).toBe('FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS');
    expect(envName('FURNACE_AGENT', ['mqtt', 'url'])).toBe('FURNACE_AGENT_MQTT_URL');
    expect(envName('FURNACE_AGENT', ['deviceId'])).toBe('FURNACE_AGENT_DEVICE_ID');
    expect(envName('FURNACE_BROKER', ['tls', 'port8883'])).toBe('FURNACE_BROKER_TLS_PORT8883');
    expect(envName('X', ['a2b', 'c'])).toBe('X_A2B_C');
    expect(envName('X', ['max3Retries'])).toBe('X_MAX3_RETRIES');
  });
});

describe('loadSettings: sources', () => {
  it('applies every default when nothing is given', () => {
    expect(load()).toEqual(DEFAULTS);
    expect(loadSettings(Schema, { envPrefix: PREFIX })).toEqual(DEFAULTS);
  });

  it('reads a YAML file, keeping defaults for what it leaves out', () => {
    const file = writeConfig('mqtt:\n  url: mqtts://broker.plant:8883\n  batchIntervalMs: 250\ndeviceId: kiln-7\n');
    expect(load({ file })).toEqual({
      mqtt: { url: 'mqtts://broker.plant:8883', batchIntervalMs: 250, clean: true },
      deviceId: 'kiln-7',
      verbose: false,
    });
  });

  it('treats an empty file as no settings', () => {
    expect(load({ file: writeConfig('') })).toEqual(DEFAULTS);
    expect(load({ file: writeConfig('# only a comment\n', 'b.yaml') })).toEqual(DEFAULTS);
  });

  it('lets the environment override the file', () => {
    const file = writeConfig('mqtt:\n  batchIntervalMs: 250\n  url: mqtt://from-file\n');
    const settings = load({
      file,
      env: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '500', FURNACE_AGENT_DEVICE_ID: 'from-env' },
    });
    expect(settings.mqtt.batchIntervalMs).toBe(500);
    expect(settings.mqtt.url).toBe('mqtt://from-file');
    expect(settings.deviceId).toBe('from-env');
  });

  it('ignores environment variables of another prefix and empty ones', () => {
    const file = writeConfig('deviceId: from-file\n');
    const settings = load({
      file,
      env: { FURNACE_BACKEND_DEVICE_ID: 'other-part', FURNACE_AGENT_DEVICE_ID: '', FURNACE_AGENT_VERBOSE: '' },
    });
    expect(settings.deviceId).toBe('from-file');
    expect(settings.verbose).toBe(false);
  });

  it('lets flags override the environment and the file', () => {
    const file = writeConfig('mqtt:\n  batchIntervalMs: 250\ndeviceId: from-file\nverbose: false\n');
    const settings = load({
      file,
      env: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '500', FURNACE_AGENT_DEVICE_ID: 'from-env' },
      overrides: { 'mqtt.batchIntervalMs': '750', deviceId: 'from-flag', verbose: true, 'mqtt.url': undefined },
    });
    expect(settings.mqtt.batchIntervalMs).toBe(750);
    expect(settings.deviceId).toBe('from-flag');
    expect(settings.verbose).toBe(true);
    // An undefined flag is no flag.
    expect(settings.mqtt.url).toBe('mqtt://localhost:1883');
  });

  it('takes typed flag values as they are', () => {
    const settings = load({ overrides: { 'mqtt.batchIntervalMs': 42, 'mqtt.clean': false } });
    expect(settings.mqtt.batchIntervalMs).toBe(42);
    expect(settings.mqtt.clean).toBe(false);
  });

  it('coerces numbers and booleans from environment strings', () => {
    const settings = load({
      env: {
        FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '2000',
        FURNACE_AGENT_MQTT_CLEAN: 'false',
        FURNACE_AGENT_VERBOSE: 'true',
      },
    });
    expect(settings.mqtt.batchIntervalMs).toBe(2000);
    expect(typeof settings.mqtt.batchIntervalMs).toBe('number');
    expect(settings.mqtt.clean).toBe(false);
    expect(settings.verbose).toBe(true);
  });

  it('coerces numbers and booleans from flag strings', () => {
    const settings = load({ overrides: { 'mqtt.batchIntervalMs': '30', verbose: 'true', 'mqtt.clean': 'false' } });
    expect(settings.mqtt.batchIntervalMs).toBe(30);
    expect(settings.verbose).toBe(true);
    expect(settings.mqtt.clean).toBe(false);
  });

  it('does not coerce a string setting that looks like a number', () => {
    expect(load({ env: { FURNACE_AGENT_DEVICE_ID: '42' } }).deviceId).toBe('42');
  });

  it('returns settings frozen all the way down', () => {
    const settings = load({ file: writeConfig('deviceId: kiln-7\n') });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.mqtt)).toBe(true);
    expect(() => {
      (settings as { deviceId: string }).deviceId = 'changed';
    }).toThrow(TypeError);
    expect(() => {
      (settings.mqtt as { batchIntervalMs: number }).batchIntervalMs = 1;
    }).toThrow(TypeError);
    expect(settings.deviceId).toBe('kiln-7');
    expect(settings.mqtt.batchIntervalMs).toBe(1000);
  });

  it('does not share state between loads', () => {
    const first = load({ env: { FURNACE_AGENT_VERBOSE: 'true' } });
    const second = load();
    expect(first.verbose).toBe(true);
    expect(second.verbose).toBe(false);
    expect(second.mqtt).not.toBe(first.mqtt);
  });
});

describe('loadSettings: bad settings', () => {
  it('reports a scalar where a section belongs, even when the environment sets a key inside it', () => {
    const file = writeConfig('mqtt: 5\n');
    const error = settingsError(() => load({ file, env: { FURNACE_AGENT_MQTT_URL: 'mqtt://h' } }));
    expect(problemFor(error, 'mqtt')).toContain('5');
  });

  it('takes only plain decimal numbers from the environment', () => {
    const error = settingsError(() => load({ env: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '0x10' } }));
    expect(problemFor(error, 'mqtt.batchIntervalMs')).toContain('"0x10"');
  });

  it('reports a value that is not a number, naming the key, the value and the variable', () => {
    const error = settingsError(() => load({ env: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: 'soon' } }));
    expect(error.problems).toHaveLength(1);
    const problem = problemFor(error, 'mqtt.batchIntervalMs');
    expect(problem).toContain('"soon"');
    expect(problem).toContain('[from environment FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS]');
  });

  it('reports every bad key at once, each with its value and where it came from', () => {
    const file = writeConfig('mqtt:\n  url: http://broker\ndeviceId: kiln-7\n');
    const error = settingsError(() =>
      load({
        file,
        env: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '5', FURNACE_AGENT_VERBOSE: 'yes' },
        overrides: { deviceId: 'kiln 7' },
      }),
    );
    expect(error.problems).toHaveLength(4);

    const url = problemFor(error, 'mqtt.url');
    expect(url).toContain('"http://broker"');
    expect(url).toContain(`[from file ${file}]`);
    expect(url).toContain('(an mqtt:// or mqtts:// URL)');

    const interval = problemFor(error, 'mqtt.batchIntervalMs');
    expect(interval).toContain('= 5:');
    expect(interval).toContain('[from environment FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS]');

    const verbose = problemFor(error, 'verbose');
    expect(verbose).toContain('"yes"');
    expect(verbose).toContain('[from environment FURNACE_AGENT_VERBOSE]');

    const device = problemFor(error, 'deviceId');
    expect(device).toContain('"kiln 7"');
    expect(device).toContain('[from command line]');
  });

  it('lists two bad keys from the file together', () => {
    const file = writeConfig('mqtt:\n  batchIntervalMs: fast\n  clean: maybe\n');
    const error = settingsError(() => load({ file }));
    expect(error.problems).toHaveLength(2);
    expect(problemFor(error, 'mqtt.batchIntervalMs')).toMatch(/^mqtt\.batchIntervalMs = "fast": .+ \[from file .+agent\.yaml\]$/);
    expect(problemFor(error, 'mqtt.clean')).toMatch(/^mqtt\.clean = "maybe": .+ \[from file .+agent\.yaml\]$/);
  });

  it('does not coerce strings written in the YAML file', () => {
    // YAML has its own types: a quoted number is a string there.
    const error = settingsError(() => load({ file: writeConfig('mqtt:\n  batchIntervalMs: "250"\n') }));
    expect(problemFor(error, 'mqtt.batchIntervalMs')).toContain('"250"');
  });

  it('reports a non-integer and out-of-range numbers', () => {
    const error = settingsError(() =>
      load({ overrides: { 'mqtt.batchIntervalMs': '12.5' }, env: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '1' } }),
    );
    expect(problemFor(error, 'mqtt.batchIntervalMs')).toContain('12.5');
    expect(problemFor(error, 'mqtt.batchIntervalMs')).toContain('[from command line]');
    const high = settingsError(() => load({ env: { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '60001' } }));
    expect(problemFor(high, 'mqtt.batchIntervalMs')).toContain('60001');
  });

  it('does not take other spellings as booleans', () => {
    for (const raw of ['TRUE', '1', 'on', 'yes']) {
      const error = settingsError(() => load({ env: { FURNACE_AGENT_VERBOSE: raw } }));
      expect(problemFor(error, 'verbose')).toContain(JSON.stringify(raw));
    }
  });

  it('reports unknown keys in the file, nested and at the top level', () => {
    const file = writeConfig('mqtt:\n  urll: mqtt://typo\ncolour: blue\n');
    const error = settingsError(() => load({ file }));
    expect(error.problems).toHaveLength(2);
    const nested = problemFor(error, 'mqtt.urll');
    expect(nested).toContain('"mqtt://typo"');
    expect(nested).toContain(`[from file ${file}]`);
    const top = problemFor(error, 'colour');
    expect(top).toContain('"blue"');
    expect(top).toContain(`[from file ${file}]`);
  });

  it('reports a section of the wrong type', () => {
    const file = writeConfig('mqtt: 5\n');
    const error = settingsError(() => load({ file }));
    expect(problemFor(error, 'mqtt')).toContain(`[from file ${file}]`);
  });

  it('names a missing file', () => {
    const file = join(dir, 'missing.yaml');
    const error = settingsError(() => load({ file }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain(`config file ${file}`);
    expect(error.problems[0]).toContain('ENOENT');
  });

  it('names a file of invalid YAML', () => {
    const file = writeConfig('mqtt: [\n  url: x\n');
    const error = settingsError(() => load({ file }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain(`config file ${file}: not valid YAML`);
  });

  it('names a file that is not a mapping', () => {
    const file = writeConfig('- mqtt\n- verbose\n');
    const error = settingsError(() => load({ file }));
    expect(error.problems[0]).toContain(`config file ${file}`);
    expect(error.problems[0]).toContain('mapping');
    const scalar = writeConfig('just text\n', 'scalar.yaml');
    expect(settingsError(() => load({ file: scalar })).problems[0]).toContain(`config file ${scalar}`);
  });

  it('puts every problem on its own line of the message', () => {
    const error = settingsError(() => load({ env: { FURNACE_AGENT_VERBOSE: 'yes', FURNACE_AGENT_DEVICE_ID: 'a b' } }));
    expect(error.message).toBe(`invalid settings:\n  ${error.problems.join('\n  ')}`);
    expect(error.message.split('\n')).toHaveLength(3);
  });
});
