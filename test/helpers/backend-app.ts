// The backend's HTTP API built on a fresh SQLite store in a temp folder, for inject() tests:
// no port, no broker. Configured through a real YAML file, with a read and an admin token.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadBackendConfig } from '../../backend/config.js';
import { buildApp } from '../../backend/http/app.js';
import { hashToken } from '../../backend/http/auth.js';
import { BackendMetrics } from '../../backend/metrics.js';
import { DeviceRegistry } from '../../backend/registry/device-registry.js';
import { SqliteReadingStore } from '../../backend/store/sqlite-store.js';

export const READ_TOKEN = 'ftk_read-token-of-the-tests';
export const ADMIN_TOKEN = 'ftk_admin-token-of-the-tests';

export interface TestApp {
  app: FastifyInstance;
  store: SqliteReadingStore;
  registry: DeviceRegistry;
  metrics: BackendMetrics;
  /** What /readyz sees; tests flip these. */
  state: { mqttConnected: boolean; storeFailure: Error | undefined };
  dir: string;
  /** GET with the read token (or `token`, or none with `token: null`): status, JSON body, headers. */
  get(url: string, token?: string | null): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** `settings` are written to the YAML file beside the tokens, e.g. `{ query: { maxLimit: 50 } }`. */
export async function startTestApp(settings: Record<string, unknown> = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'backend-app-'));
  const file = join(dir, 'backend.yaml');
  const auth = {
    tokens: [
      { name: 'dashboard', sha256: hashToken(READ_TOKEN), scopes: ['read'] },
      { name: 'operator', sha256: hashToken(ADMIN_TOKEN), scopes: ['read', 'admin'] },
    ],
    ...(settings.auth as object | undefined),
  };
  writeFileSync(file, stringify({ ...settings, dataDir: join(dir, 'data'), auth }));
  const config = loadBackendConfig(file, {});
  const store = new SqliteReadingStore(config.dataDir, { query: config.query, retention: config.store });
  const registry = new DeviceRegistry(config.dataDir);
  const metrics = new BackendMetrics();
  const state: TestApp['state'] = { mqttConnected: true, storeFailure: undefined };
  const app = await buildApp({
    store,
    registry,
    metrics,
    log: pino({ level: 'silent' }),
    config,
    readiness: { mqttConnected: () => state.mqttConnected, storeFailure: () => state.storeFailure },
    admin: {
      runRetention: () => store.applyRetention(Date.now()),
      ingestState: () => ({ connected: state.mqttConnected, uncommittedReadings: 0, storeFailure: state.storeFailure?.message ?? null }),
    },
  });
  await app.ready();
  return {
    app,
    store,
    registry,
    metrics,
    state,
    dir,
    async get(url, token = READ_TOKEN) {
      const headers = token === null ? {} : { authorization: `Bearer ${token}` };
      const response = await app.inject({ method: 'GET', url, headers });
      const body: unknown = response.headers['content-type']?.toString().startsWith('application/json') ? response.json() : response.body;
      return { status: response.statusCode, body, headers: response.headers };
    },
    async close() {
      await app.close();
      await store.close();
      registry.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
