import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ApiTokenSchema, BackendConfigSchema, loadBackendConfig } from './config.js';

const EXAMPLE = new URL('./backend.example.yaml', import.meta.url).pathname;

/** Every leaf key path of an object schema. */
function leafPaths(schema: TSchema, prefix: string[] = []): string[][] {
  if (!TypeGuard.IsObject(schema)) return [prefix];
  return Object.entries(schema.properties).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

describe('backend config', () => {
  it('takes its defaults with no file and no environment', () => {
    const config = loadBackendConfig(undefined, {});
    expect(config).toMatchObject({ http: { port: 8080 }, mqtt: { clientId: 'furnace-backend' }, auth: { openAccess: false, tokens: [] } });
    expect(Object.isFrozen(config.query)).toBe(true);
  });

  it('has an example file that loads and shows every key (the optional ones commented out)', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const config = loadBackendConfig(EXAMPLE, {});
    expect(config.auth.tokens[0]?.name).toBe('grafana');
    const uncommented = text.replace(/^(\s*)# ?(\w+:)/gm, '$1$2');
    const yaml = parse(uncommented) as Record<string, unknown>;
    const missing = leafPaths(BackendConfigSchema).filter((path) => {
      let node: unknown = yaml;
      for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
      return node === undefined;
    });
    expect(missing.map((path) => path.join('.'))).toEqual([]);
    const token = (yaml.auth as { tokens: Array<Record<string, unknown>> }).tokens[0] ?? {};
    expect(Object.keys(token).sort()).toEqual(Object.keys(ApiTokenSchema.properties).sort());
  });

  it('takes environment variables named after the key path, and flags over them', () => {
    const env = { FURNACE_BACKEND_AUTH_OPEN_ACCESS: 'true', FURNACE_BACKEND_QUERY_TIMEOUT_MS: '250', FURNACE_BACKEND_HTTP_PORT: '9000' };
    const config = loadBackendConfig(undefined, env, { 'http.port': '9001' });
    expect([config.auth.openAccess, config.query.timeoutMs, config.http.port]).toEqual([true, 250, 9001]);
  });

  it('takes logLevel like the other parts (default info, FURNACE_BACKEND_LOG_LEVEL), and refuses an unknown level', () => {
    expect(loadBackendConfig(undefined, {}).logLevel).toBe('info');
    expect(loadBackendConfig(undefined, { FURNACE_BACKEND_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(() => loadBackendConfig(undefined, { FURNACE_BACKEND_LOG_LEVEL: 'loud' })).toThrow(
      /logLevel = "loud": .*fatal, error, warn, info, debug.*\[from environment FURNACE_BACKEND_LOG_LEVEL\]/,
    );
  });

  it('reports every bad setting at once, naming it, its value and what is allowed', () => {
    const env = { FURNACE_BACKEND_QUERY_WORKERS: '0', FURNACE_BACKEND_INGEST_BATCH_MAX_DELAY_MS: 'soon' };
    const error = ((): unknown => {
      try {
        return loadBackendConfig(undefined, env);
      } catch (thrown) {
        return thrown;
      }
    })() as { code: string; message: string };
    expect(error.code).toBe('CONTRACT_SETTINGS_INVALID');
    expect(error.message).toMatch(/query\.workers = 0: .*worker threads.*\[from environment FURNACE_BACKEND_QUERY_WORKERS\]/);
    expect(error.message).toMatch(/ingest\.batchMaxDelayMs = "soon": Expected integer/);
  });

  it('refuses rules across keys: a default limit past the maximum, two tokens with one name', () => {
    const sha = 'a'.repeat(64);
    expect(() =>
      loadBackendConfig(undefined, { FURNACE_BACKEND_QUERY_DEFAULT_LIMIT: '500', FURNACE_BACKEND_QUERY_MAX_LIMIT: '100' }),
    ).toThrow(/query\.defaultLimit = 500: must not exceed query\.maxLimit \(100\)/);
    expect(() =>
      checkTokens([
        { name: 'a', sha256: sha, scopes: ['read'] },
        { name: 'a', sha256: 'b'.repeat(64), scopes: ['read'] },
      ]),
    ).toThrow(/auth\.tokens\.1\.name = "a": used by another token/);
  });

  it('takes the command settings from the environment, and refuses a default timeout past the maximum or a device bound past the total', () => {
    const config = loadBackendConfig(undefined, {
      FURNACE_BACKEND_COMMANDS_MAX_TIMEOUT_MS: '60000',
      FURNACE_BACKEND_COMMANDS_FILL_GAPS_AFTER_MS: '0',
    });
    expect(config.commands).toEqual({
      defaultTimeoutMs: 5000,
      maxTimeoutMs: 60_000,
      maxInFlightPerDevice: 4,
      maxInFlight: 256,
      fillGapsAfterMs: 0,
      fillGapsRepeatMs: 300_000,
    });
    const env = {
      FURNACE_BACKEND_COMMANDS_DEFAULT_TIMEOUT_MS: '20000',
      FURNACE_BACKEND_COMMANDS_MAX_TIMEOUT_MS: '10000',
      FURNACE_BACKEND_COMMANDS_MAX_IN_FLIGHT: '2',
    };
    expect(() => loadBackendConfig(undefined, env)).toThrow(
      /commands\.defaultTimeoutMs = 20000: must not exceed commands\.maxTimeoutMs \(10000\)/,
    );
    expect(() => loadBackendConfig(undefined, env)).toThrow(
      /commands\.maxInFlightPerDevice = 4: must not exceed commands\.maxInFlight \(2\)/,
    );
    expect(() => loadBackendConfig(undefined, { FURNACE_BACKEND_COMMANDS_MAX_IN_FLIGHT_PER_DEVICE: '0' })).toThrow(
      /commands\.maxInFlightPerDevice = 0: /,
    );
  });

  it('takes the InfluxDB store from the environment and flags, and refuses a password without a user or a bad write mode', () => {
    const env = { FURNACE_BACKEND_STORE_INFLUX_TOKEN: 'secret', FURNACE_BACKEND_STORE_INFLUX_DATABASE: 'plant' };
    const config = loadBackendConfig(undefined, env, {
      'store.kind': 'influxdb',
      'store.influx.url': 'http://influx:8086',
      'store.influx.writeMode': 'v1',
    });
    expect(config.store.kind).toBe('influxdb');
    expect(config.store.influx).toMatchObject({
      url: 'http://influx:8086',
      writeMode: 'v1',
      token: 'secret',
      database: 'plant',
      bucket: 'furnace',
      batchSize: 5000,
    });
    expect(loadBackendConfig(undefined, {}).store.kind).toBe('sqlite');
    const bad = {
      FURNACE_BACKEND_STORE_KIND: 'influxdb',
      FURNACE_BACKEND_STORE_INFLUX_PASSWORD: 'x',
      FURNACE_BACKEND_STORE_INFLUX_WRITE_MODE: 'v3',
    };
    expect(() => loadBackendConfig(undefined, bad)).toThrow(/store\.influx\.writeMode = "v3"/);
    expect(() => loadBackendConfig(undefined, { ...bad, FURNACE_BACKEND_STORE_INFLUX_WRITE_MODE: 'v2' })).toThrow(
      /store\.influx\.password is set but store\.influx\.username is not/,
    );
    expect(() => loadBackendConfig(undefined, { FURNACE_BACKEND_STORE_KIND: 'mongodb' })).toThrow(/store\.kind = "mongodb"/);
  });
});

/** Loads a config whose only content is these tokens (through a temp file: tokens come from files only). */
function checkTokens(tokens: unknown[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'backend-config-'));
  try {
    writeFileSync(join(dir, 'backend.yaml'), stringify({ auth: { tokens } }));
    loadBackendConfig(join(dir, 'backend.yaml'), {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
