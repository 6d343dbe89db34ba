// The real backend in-process for cross-part tests: on 127.0.0.1 and a port the OS picks,
// configured through a real YAML file with the tests' read and admin tokens, its data in a folder
// of its own, logging nowhere unless given a logger.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { type RunningBackend, loadBackendConfig, startBackend } from '../../backend/index.js';
import { writeBackendConfig } from './backend-http.js';

export interface TestBackendOptions {
  /** The broker it connects to, mqtt://HOST:PORT (nothing need listen there). */
  mqttUrl: string;
  /**
   * The folder for `backend.yaml` and the data (`DIR/backend`), kept on close. A second backend
   * started on the same `dir` finds the first one's data: a restart. Without it the helper makes
   * a temp folder and removes it on close.
   */
  dir?: string;
  /** Written to `backend.yaml` beside the tokens, e.g. `{ ingest: { batchMaxDelayMs: 20 } }`. */
  settings?: Record<string, unknown>;
  /** More settings by dotted key path, as flags give them (`'mqtt.clientId'`); they win over the file. */
  flags?: Record<string, string>;
  /** Silent unless given. */
  log?: Logger;
  /** Runs on the data folder before the backend opens it: to seed its SQLite file, say. */
  beforeStart?: (dataDir: string) => void | Promise<void>;
}

/** The running backend, with where to reach it; close() also removes the temp folder it made. */
export interface TestBackend extends RunningBackend {
  /** http://127.0.0.1:PORT */
  readonly base: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
}

export async function startTestBackend({
  mqttUrl,
  dir: givenDir,
  settings = {},
  flags = {},
  log = pino({ level: 'silent' }),
  beforeStart,
}: TestBackendOptions): Promise<TestBackend> {
  const dir = givenDir ?? (await mkdtemp(join(tmpdir(), 'test-backend-')));
  const removeDir = () => (givenDir === undefined ? rm(dir, { recursive: true, force: true }) : Promise.resolve());
  const dataDir = join(dir, 'backend');
  try {
    const configFile = writeBackendConfig(dir, settings);
    await beforeStart?.(dataDir);
    const overrides = { 'http.host': '127.0.0.1', 'http.port': '0', 'mqtt.url': mqttUrl, dataDir, ...flags };
    const running = await startBackend(loadBackendConfig(configFile, {}, overrides), log);
    const close = async () => {
      try {
        await running.close(); // idempotent: a test may close it first, the cleanup again
      } finally {
        await removeDir();
      }
    };
    return { ...running, base: `http://127.0.0.1:${running.port}`, dir, dataDir, configFile, close };
  } catch (error) {
    await removeDir();
    throw error;
  }
}
