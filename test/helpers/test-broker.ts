// Our broker in-process on a free port, with a credentials file of test users in a temp folder
// and its log captured, for the broker's cross-part tests.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type Logger, pino } from 'pino';
import { stringify as stringifyYaml } from 'yaml';
import {
  type Credential,
  type Role,
  type RunningBroker,
  hashPassword,
  loadBrokerConfig,
  startBroker,
  writeCredentialsFile,
} from '../../broker/index.js';

export interface TestUser {
  username: string;
  role: Role;
  password: string;
}

export const USERS = {
  devA: { username: 'dev-a', role: 'device', password: 'pw-dev-a' },
  devB: { username: 'dev-b', role: 'device', password: 'pw-dev-b' },
  backend: { username: 'backend', role: 'backend', password: 'pw-backend' },
  viewer: { username: 'viewer', role: 'viewer', password: 'pw-viewer' },
  admin: { username: 'admin', role: 'admin', password: 'pw-admin' },
} as const satisfies Record<string, TestUser>;

// Cheap scrypt parameters keep start-up quick; the broker reads the cost from each hash.
const TEST_COST = { ln: 10, r: 8, p: 1 };

export async function writeUsers(file: string, users: readonly TestUser[]): Promise<void> {
  const entries: Credential[] = await Promise.all(
    users.map(async (user) => ({ username: user.username, role: user.role, hash: await hashPassword(user.password, TEST_COST) })),
  );
  await writeCredentialsFile(file, entries);
}

/** A pino logger whose lines are kept, parsed, for assertions. */
export class CapturedLog {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger = pino(
    { level: 'debug' },
    { write: (line: string) => void this.lines.push(JSON.parse(line) as Record<string, unknown>) },
  );

  /** Lines whose msg matches `msg` and whose fields include `fields`. */
  find(msg: string | RegExp, fields: Record<string, unknown> = {}): Array<Record<string, unknown>> {
    return this.lines.filter(
      (line) =>
        (typeof msg === 'string' ? line.msg === msg : msg.test(String(line.msg))) &&
        Object.entries(fields).every(([key, value]) => line[key] === value),
    );
  }
}

export interface TestBroker {
  broker: RunningBroker;
  /** mqtt://127.0.0.1:PORT */
  url: string;
  port: number;
  dir: string;
  passwordFile: string;
  log: CapturedLog;
  stop(): Promise<void>;
}

export interface TestBrokerOptions {
  /** Settings by dotted key path, as flags give them. */
  settings?: Record<string, string>;
  users?: readonly TestUser[];
  /** Written as the broker's YAML config file, for what flags cannot give (lists, such as the acl patterns); `settings` win over it. */
  config?: Record<string, unknown>;
}

export async function startTestBroker({
  settings = {},
  users = Object.values(USERS),
  config: fileSettings,
}: TestBrokerOptions = {}): Promise<TestBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'test-broker-'));
  const passwordFile = join(dir, 'users');
  const log = new CapturedLog();
  try {
    await writeUsers(passwordFile, users);
    const configFile = fileSettings && join(dir, 'broker.yaml');
    if (configFile) await writeFile(configFile, stringifyYaml(fileSettings));
    const config = loadBrokerConfig(
      configFile,
      {},
      { 'tcp.host': '127.0.0.1', 'tcp.port': '0', 'auth.passwordFile': passwordFile, ...settings },
    );
    const broker = await startBroker(config, log.logger);
    const stop = async () => {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    };
    return { broker, url: `mqtt://127.0.0.1:${broker.port}`, port: broker.port, dir, passwordFile, log, stop };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Connects as `user` (client id = user name unless given), without reconnecting. */
export function connectAs(url: string, user: TestUser | undefined, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    clientId: user?.username,
    username: user?.username,
    password: user?.password,
    ...options,
  });
}

/** Reads one sample of a Prometheus metric from a broker's registry (0 when absent): a RunningBroker's, or a HookedAedes'. */
export async function metricValue(
  broker: Pick<RunningBroker, 'metrics'>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await broker.metrics.getSingleMetric(name)?.get();
  const sample = metric?.values.find((value) => Object.entries(labels).every(([key, label]) => String(value.labels[key]) === label));
  return sample?.value ?? 0;
}
