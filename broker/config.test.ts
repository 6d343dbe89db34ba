import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SettingsError } from '../contract/index.js';
import { BrokerConfigSchema, loadBrokerConfig } from './config.js';

const EXAMPLE = join(import.meta.dirname, 'broker.example.yaml');

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof SettingsError) return error.problems;
    throw error;
  }
  throw new Error('expected a SettingsError');
}

function leafPaths(schema: TSchema, path: string[] = []): string[] {
  if (!TypeGuard.IsObject(schema)) return [path.join('.')];
  return Object.entries(schema.properties).flatMap(([key, child]) => leafPaths(child, [...path, key]));
}

function has(object: unknown, path: string): boolean {
  let node = object;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

describe('broker settings', () => {
  it('are secure by default: no anonymous access, only TCP, no metrics port', () => {
    expect(problems(() => loadBrokerConfig(undefined, {}))).toEqual([
      expect.stringMatching(/^auth\.passwordFile is not set and auth\.allowAnonymous is false/),
    ]);
    const config = loadBrokerConfig(undefined, {}, { 'auth.passwordFile': '/x/users' });
    expect(config.auth.allowAnonymous).toBe(false);
    expect([config.tcp.enabled, config.tls.enabled, config.ws.enabled, config.metrics.enabled]).toEqual([true, false, false, false]);
    expect(config.tcp.port).toBe(1883);
    expect(config.limits.drainTimeoutMs).toBe(10_000);
  });

  it('come from FURNACE_BROKER_* variables named after their key path', () => {
    const config = loadBrokerConfig(undefined, {
      FURNACE_BROKER_AUTH_ALLOW_ANONYMOUS: 'true',
      FURNACE_BROKER_LIMITS_MAX_CONNECTIONS: '12',
      FURNACE_BROKER_PERSISTENCE_BACKEND: 'redis',
      FURNACE_BROKER_PERSISTENCE_REDIS_URL: 'redis://10.0.0.5:6379/2',
    });
    expect(config.auth.allowAnonymous).toBe(true);
    expect(config.limits.maxConnections).toBe(12);
    expect(config.persistence).toMatchObject({ backend: 'redis', redisUrl: 'redis://10.0.0.5:6379/2' });
  });

  it('report every bad value at once, and the rules between keys', () => {
    const found = problems(() =>
      loadBrokerConfig(
        undefined,
        { FURNACE_BROKER_TCP_PORT: '70000', FURNACE_BROKER_PERSISTENCE_BACKEND: 'mongo' },
        { 'auth.allowAnonymous': 'true' },
      ),
    );
    expect(found.join('\n')).toMatch(/tcp\.port = 70000/);
    expect(found.join('\n')).toMatch(/persistence\.backend = "mongo"/);
    const rules = problems(() =>
      loadBrokerConfig(undefined, {
        FURNACE_BROKER_AUTH_ALLOW_ANONYMOUS: 'true',
        FURNACE_BROKER_TCP_ENABLED: 'false',
        FURNACE_BROKER_LIMITS_KEEPALIVE_MIN_SECONDS: '900',
      }),
    );
    expect(rules).toEqual([
      'tcp.enabled, tls.enabled and ws.enabled are all false: enable at least one listener',
      'limits.keepaliveMinSeconds = 900 is above limits.keepaliveMaxSeconds = 600',
    ]);
    const tls = problems(() =>
      loadBrokerConfig(
        undefined,
        { FURNACE_BROKER_TLS_ENABLED: 'true', FURNACE_BROKER_TLS_REQUIRE_CLIENT_CERTIFICATE: 'true' },
        { 'auth.allowAnonymous': 'true' },
      ),
    );
    expect(tls).toEqual([
      'tls.enabled is true: set tls.certFile and tls.keyFile (PEM files)',
      'tls.requireClientCertificate is true: set tls.caFile, the CA that signs client certificates',
    ]);
  });

  it('check the deny rules of the ACL at start-up, naming the key of each bad one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-config-'));
    try {
      const file = join(dir, 'broker.yaml');
      writeFileSync(file, "acl:\n  deny:\n    publish: ['plant/safety/#']\n    subscribe: ['test/nosubscribe', 'a/#/b', '']\n");
      const found = problems(() => loadBrokerConfig(file, {}, { 'auth.allowAnonymous': 'true' }));
      expect(found).toEqual([expect.stringMatching(/^acl\.deny\.subscribe\.2 = "": /)]);
      writeFileSync(file, "acl:\n  deny:\n    publish: ['plant/safety/#']\n    subscribe: ['test/nosubscribe', 'a/#/b']\n");
      expect(problems(() => loadBrokerConfig(file, {}, { 'auth.allowAnonymous': 'true' }))).toEqual([
        'acl.deny.subscribe.1 = "a/#/b": the topic filter uses \'#\' other than as the whole last level',
      ]);
      writeFileSync(file, 'acl:\n  deny:\n    publish: plant/safety/#\n');
      expect(problems(() => loadBrokerConfig(file, {}, { 'auth.allowAnonymous': 'true' }))).toEqual([
        expect.stringMatching(/^acl\.deny\.publish = "plant\/safety\/#": /),
      ]);
      writeFileSync(file, "acl:\n  deny:\n    publish: ['plant/safety/#']\n    subscribe: ['plant/safety/#', 'test/nosubscribe']\n");
      const config = loadBrokerConfig(file, {}, { 'auth.allowAnonymous': 'true' });
      expect(config.acl.deny).toEqual({ publish: ['plant/safety/#'], subscribe: ['plant/safety/#', 'test/nosubscribe'] });
      expect(config.acl.device.publish).toContain('telemetry/v1/{username}/readings'); // the roles keep their defaults
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('broker.example.yaml documents every key and loads as it is', () => {
    const example: unknown = parseYaml(readFileSync(EXAMPLE, 'utf8'));
    const missing = leafPaths(BrokerConfigSchema).filter((path) => !has(example, path));
    expect(missing).toEqual([]);
    const config = loadBrokerConfig(EXAMPLE, {});
    expect(config.auth.passwordFile).toBe('/etc/furnace/broker-users');
    // Apart from the paths it names, its values are the defaults.
    const defaults = loadBrokerConfig(undefined, {}, { 'auth.passwordFile': '/etc/furnace/broker-users', brokerId: 'broker-1' });
    expect({ ...config, tls: { ...config.tls, certFile: undefined, keyFile: undefined, caFile: undefined } }).toEqual(defaults);
  });
});
