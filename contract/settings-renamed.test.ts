import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SettingsError, loadSettings } from './index.js';
import type { SettingsDeprecation, SettingsSources } from './settings.js';

// A key renamed the way the agent's mqtt.keepaliveS became mqtt.keepaliveSeconds.
const Schema = Type.Object(
  {
    mqtt: Type.Object(
      { keepaliveSeconds: Type.Integer({ minimum: 5, maximum: 3600, default: 30, description: 'MQTT keepalive, in seconds' }) },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
const renamed = { 'mqtt.keepaliveS': 'mqtt.keepaliveSeconds' };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'contract-renamed-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
});

function file(text: string): string {
  const path = join(dir, 'agent.yaml');
  writeFileSync(path, text);
  return path;
}

function load(sources: Partial<SettingsSources>): { settings: { mqtt: { keepaliveSeconds: number } }; warned: SettingsDeprecation[] } {
  const warned: SettingsDeprecation[] = [];
  const settings = loadSettings(Schema, { envPrefix: 'FURNACE_AGENT', env: {}, renamed, onDeprecated: (d) => warned.push(d), ...sources });
  return { settings, warned };
}

describe('loadSettings: renamed keys', () => {
  it('takes the old key from the file, with a warning naming the new key and the file', () => {
    const path = file('mqtt:\n  keepaliveS: 45\n');
    const { settings, warned } = load({ file: path });
    expect(settings.mqtt.keepaliveSeconds).toBe(45);
    expect(warned).toEqual([
      { found: 'mqtt.keepaliveS', use: 'mqtt.keepaliveSeconds', source: `file ${path}`, message: expect.any(String) as string },
    ]);
    expect(warned[0]?.message).toBe(
      `mqtt.keepaliveS in ${path} is deprecated: rename it to mqtt.keepaliveSeconds (the old name still works for now)`,
    );
  });

  it('takes the old environment variable, with a warning naming the new variable', () => {
    const { settings, warned } = load({ env: { FURNACE_AGENT_MQTT_KEEPALIVE_S: '50' } });
    expect(settings.mqtt.keepaliveSeconds).toBe(50);
    expect(warned.map((d) => [d.found, d.use, d.source])).toEqual([
      ['FURNACE_AGENT_MQTT_KEEPALIVE_S', 'FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS', 'environment'],
    ]);
    expect(warned[0]?.message).toMatch(
      /FURNACE_AGENT_MQTT_KEEPALIVE_S is deprecated: rename it to FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS \(setting mqtt\.keepaliveSeconds/,
    );
  });

  it('lets the new name win when both are set, and says the old one is ignored', () => {
    const path = file('mqtt:\n  keepaliveS: 45\n  keepaliveSeconds: 60\n');
    const fromFile = load({ file: path });
    expect(fromFile.settings.mqtt.keepaliveSeconds).toBe(60);
    expect(fromFile.warned[0]?.message).toMatch(
      /mqtt\.keepaliveS in .* is deprecated and ignored: mqtt\.keepaliveSeconds is set too and wins/,
    );
    const fromEnv = load({ env: { FURNACE_AGENT_MQTT_KEEPALIVE_S: '50', FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS: '70' } });
    expect(fromEnv.settings.mqtt.keepaliveSeconds).toBe(70);
    expect(fromEnv.warned[0]?.message).toMatch(
      /FURNACE_AGENT_MQTT_KEEPALIVE_S is deprecated and ignored: FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS is set too/,
    );
  });

  it('keeps the usual order: the old variable still beats the file, whatever name the file uses', () => {
    const { settings } = load({ file: file('mqtt:\n  keepaliveSeconds: 60\n'), env: { FURNACE_AGENT_MQTT_KEEPALIVE_S: '50' } });
    expect(settings.mqtt.keepaliveSeconds).toBe(50);
  });

  it('reports a bad value under the new key, naming the old name it was given as', () => {
    const path = file('mqtt:\n  keepaliveS: 1\n');
    expect(() => load({ file: path })).toThrow(SettingsError);
    expect(() => load({ file: path })).toThrow(
      `mqtt.keepaliveSeconds = 1: Expected integer to be greater or equal to 5 (MQTT keepalive, in seconds) [from file ${path}, as mqtt.keepaliveS]`,
    );
    expect(() => load({ env: { FURNACE_AGENT_MQTT_KEEPALIVE_S: 'soon' } })).toThrow(/\[from environment FURNACE_AGENT_MQTT_KEEPALIVE_S\]/);
  });

  it("without a handler, says it on Node's warning channel as a DeprecationWarning", () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    loadSettings(Schema, { envPrefix: 'FURNACE_AGENT', env: { FURNACE_AGENT_MQTT_KEEPALIVE_S: '50' }, renamed });
    expect(emit).toHaveBeenCalledWith(expect.stringContaining('FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS'), {
      type: 'DeprecationWarning',
      code: 'FURNACE_SETTING_RENAMED',
    });
  });

  it('says nothing when only the new names are used', () => {
    const { warned } = load({ file: file('mqtt:\n  keepaliveSeconds: 60\n'), env: { FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS: '70' } });
    expect(warned).toEqual([]);
  });
});
