// The processes the pipeline bench measures: furnace-broker (password file made with
// `furnace-broker passwd add`, ACL on, publish rate limit off, metrics on) with furnace-backend
// (SQLite in a temp folder, its API behind the tests' read token) behind it; and Mosquitto 2 with a password file and ACL as the
// reference. Plus what the bench reads from them: Prometheus counters, VmRSS, the readings table.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { SQLITE_FILE } from '../backend/store/sqlite-store.js';
import { READ_TOKEN, writeBackendConfig } from '../test/helpers/backend-http.js';
import { DIST_DIR, startCli } from '../test/helpers/cli.js';
import { freePorts } from '../test/helpers/free-port.js';
import { type SecureMosquitto, startMosquittoWithAuth } from '../test/helpers/mosquitto-auth.js';
import type { RunningProcess } from '../test/helpers/process.js';
import type { Credentials } from './pipeline-load.js';

const run = promisify(execFile);

export interface BenchUsers {
  devices: Credentials[];
  /** The backend's own broker user. */
  backend: Credentials;
  /** A second backend-role user: the bench's subscriber (confirmations, Mosquitto relay). */
  observer: Credentials;
}

export function benchUsers(devices: number): BenchUsers {
  return {
    devices: Array.from({ length: devices }, (_, i) => ({ username: `bench-dev-${i + 1}`, password: `bench-dev-pw-${i + 1}` })),
    backend: { username: 'backend', password: 'bench-backend-pw' },
    observer: { username: 'bench-observer', password: 'bench-observer-pw' },
  };
}

/** Our broker's credentials file, made the way an operator makes it (README, "Running one part alone"). */
export async function writeBrokerUsers(file: string, users: BenchUsers): Promise<void> {
  const cli = join(DIST_DIR, 'broker', 'cli.js');
  const add = (user: Credentials, role: string) =>
    run(process.execPath, [cli, 'passwd', 'add', user.username, '--role', role, '--password', user.password, '--file', file]);
  for (const device of users.devices) await add(device, 'device');
  await add(users.backend, 'backend');
  await add(users.observer, 'backend');
}

export interface OurPipeline {
  url: string;
  /** The backend's HTTP API, e.g. http://127.0.0.1:PORT (no trailing slash), and a read token it accepts. */
  httpUrl: string;
  readToken: string;
  broker: RunningProcess;
  backend: RunningProcess;
  brokerMetricsUrl: string;
  backendMetricsUrl: string;
  dataDir: string;
  stop: () => Promise<void>;
}

/** furnace-broker and furnace-backend, each its own process, fresh for one case. */
export async function startOurPipeline(dir: string, usersFile: string, users: BenchUsers, confirmIntervalMs: number): Promise<OurPipeline> {
  const [mqttPort, brokerMetricsPort, httpPort] = (await freePorts(3)) as [number, number, number];
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const broker = await startCli(
    'broker',
    ['--host', '127.0.0.1', '--port', String(mqttPort), '--password-file', usersFile, '--metrics-port', String(brokerMetricsPort)],
    // The per-client publish rate limit (200/s by default) would measure itself: off for the bench.
    { FURNACE_BROKER_LIMITS_PUBLISH_RATE_PER_SECOND: '0' },
  );
  const dataDir = join(dir, 'backend');
  // A config with API tokens, as a plant runs it: the steady case reads /latest and /stream with the read token.
  const config = writeBackendConfig(dir);
  const args = ['--config', config, '--host', '127.0.0.1', '--port', String(httpPort), '--mqtt-url', url, '--data-dir', dataDir];
  const backend = await startCli(
    'backend',
    args,
    {
      // The API's rate limit (600/min per token) would refuse the bench's /latest loop, not measure it.
      FURNACE_BACKEND_RATE_LIMIT_PER_MINUTE: '1000000',
      FURNACE_BACKEND_MQTT_USERNAME: users.backend.username,
      FURNACE_BACKEND_MQTT_PASSWORD: users.backend.password,
      FURNACE_BACKEND_INGEST_CONFIRM_INTERVAL_MS: String(confirmIntervalMs),
      // e.g. BENCH_BACKEND_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": node flags for the backend process only.
    },
    (process.env.BENCH_BACKEND_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ).catch(async (error: unknown) => {
    await broker.stop();
    throw error;
  });
  return {
    url,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    readToken: READ_TOKEN,
    broker,
    backend,
    brokerMetricsUrl: `http://127.0.0.1:${brokerMetricsPort}/metrics`,
    backendMetricsUrl: `http://127.0.0.1:${httpPort}/metrics`,
    dataDir,
    stop: async () => {
      await backend.stop(15_000);
      await broker.stop();
    },
  };
}

/** Mosquitto 2 with the same users, each device allowed to write only its own telemetry. */
export function startReferenceMosquitto(users: BenchUsers): Promise<SecureMosquitto> {
  return startMosquittoWithAuth([
    ...users.devices.map((device) => ({ ...device, acl: [`topic write telemetry/v1/${device.username}/#`] })),
    { ...users.observer, acl: ['topic read telemetry/v1/#'] },
  ]);
}

/** The sum of a Prometheus metric's samples (over every label set, or those whose labels contain `labels`). */
export async function scrapeMetric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Resident and peak resident memory of a process, MiB (Linux /proc). */
export async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/**
 * What the readings table holds: rows, and distinct (device, seq). Read-only beside the running
 * backend (WAL). Schema-light on purpose: it must keep working when the table's keys change.
 */
export function countStored(dataDir: string): { rows: number; distinct: number } {
  const db = new Database(join(dataDir, SQLITE_FILE), { readonly: true, fileMustExist: true });
  try {
    const rows = (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
    const distinct = (db.prepare('SELECT count(*) AS n FROM (SELECT DISTINCT device, seq FROM readings)').get() as { n: number }).n;
    return { rows, distinct };
  } finally {
    db.close();
  }
}
