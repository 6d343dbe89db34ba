// An aedes with the broker's hooks installed by the broker's own code (broker/hooks/install.ts),
// real credentials from a password file in a temporary folder, real metrics, limits, sessions and
// connection registry, aedes' in-memory persistence, and no listener: clients are attached over
// stream pairs (mqtt-duplex.ts) through the same attachClient the TCP, TLS and WebSocket
// listeners use. For the hooks' unit tests.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Aedes } from 'aedes';
import type { Registry } from 'prom-client';
import { afterEach } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { loadBrokerConfig } from '../../broker/config.js';
import { ConnectionRegistry, type ListenerName } from '../../broker/hooks/connections.js';
import type { HookContext } from '../../broker/hooks/hook-context.js';
import { CONCURRENCY, createAedes, installHooks, listenAedes, loadCredentials } from '../../broker/hooks/install.js';
import { Sessions } from '../../broker/hooks/sessions.js';
import { LimitReporter } from '../../broker/guards/limit-reporter.js';
import { attachClient } from '../../broker/listeners/client-attach.js';
import { BrokerMetrics } from '../../broker/metrics/metrics.js';
import { createPersistence } from '../../broker/persistence.js';
import { type DuplexClient, type DuplexOptions, connectDuplex } from './mqtt-duplex.js';
import { CapturedLog, type TestBrokerOptions, USERS, writeUsers } from './test-broker.js';

export interface HookedAedes {
  readonly aedes: Aedes;
  /** What the hooks share: config, sessions, connections, metrics, credentials. */
  readonly ctx: HookContext;
  /** The broker's Prometheus registry (for metricValue()). */
  readonly metrics: Registry;
  readonly log: CapturedLog;
  readonly passwordFile: string;
  /** Reads the password file again now, as SIGHUP does (the file is also watched). */
  reloadCredentials(): Promise<void>;
  /** Resolves once aedes has published a message on `topic` (stored it if retained, handed it to the subscribers). */
  published(topic: string, deadlineMs?: number): Promise<void>;
  /** A new client on a stream pair, attached as a listener attaches a socket. */
  connect(options?: DuplexOptions): DuplexClient;
  /** Closes every client and aedes, stops watching the credentials, removes the folder. */
  close(): Promise<void>;
}

/** Same options as startTestBroker: settings by dotted key path, users, a config file's content. */
export async function startHookedAedes({
  settings = {},
  users = Object.values(USERS),
  config: fileSettings,
}: TestBrokerOptions = {}): Promise<HookedAedes> {
  const dir = await mkdtemp(join(tmpdir(), 'hooked-aedes-'));
  const cleanups: Array<() => unknown> = [() => rm(dir, { recursive: true, force: true })];
  let closing: Promise<void> | undefined;
  // Once, newest first, however often it is called.
  const cleanup = () =>
    (closing ??= (async () => {
      for (const step of [...cleanups].reverse()) await step();
    })());
  try {
    const passwordFile = join(dir, 'users');
    await writeUsers(passwordFile, users);
    const configFile = fileSettings && join(dir, 'broker.yaml');
    if (configFile) await writeFile(configFile, stringifyYaml(fileSettings));
    const config = loadBrokerConfig(configFile, {}, { 'auth.passwordFile': passwordFile, ...settings });
    const log = new CapturedLog();
    const authLog = log.logger.child({ component: 'broker:auth' });
    let aedes: Aedes | undefined;
    const metrics: BrokerMetrics = new BrokerMetrics({
      openConnections: (listener) => connections.count(listener as ListenerName),
      listeners: () => [],
      connectedClients: () => aedes?.connectedClients ?? 0,
    });
    const limits = new LimitReporter(metrics, log.logger.child({ component: 'broker:limits' }));
    const connections: ConnectionRegistry = new ConnectionRegistry(config.limits.maxConnections, limits, log.logger);
    const sessions = new Sessions();
    const credentials = await loadCredentials(config, { sessions, metrics, log: authLog });
    cleanups.push(() => credentials.close());
    const persistence = await createPersistence(config.persistence, CONCURRENCY, log.logger);
    cleanups.push(() => persistence.close());
    const broker = (aedes = createAedes(config, persistence));
    cleanups.push(() => new Promise<void>((resolve) => broker.close(() => resolve())));
    const parts = { config, sessions, connections, credentials: () => credentials.current, metrics, limits, log: authLog };
    const ctx = installHooks(broker, parts, log.logger);
    await listenAedes(broker, sessions);
    const attach = { aedes: broker, connections, sessions, limits, config: config.limits };
    return {
      aedes: broker,
      ctx,
      metrics: metrics.registry,
      log,
      passwordFile,
      reloadCredentials: () => credentials.reload(),
      published: (topic, deadlineMs) => publishedOn(broker, topic, deadlineMs),
      connect: (options) => connectDuplex((stream, info) => attachClient(attach, stream, info), options),
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

// aedes acknowledges a QoS 1 PUBLISH before it publishes it (lib/handlers/publish.js): its
// 'publish' event, emitted once the message is stored and routed, is what a test can wait for.
function publishedOn(aedes: Aedes, topic: string, deadlineMs = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    const onPublish = (packet: { topic: string }) => {
      if (packet.topic !== topic) return;
      clearTimeout(timer);
      aedes.off('publish', onPublish);
      resolve();
    };
    const timer = setTimeout(() => {
      aedes.off('publish', onPublish);
      reject(new Error(`nothing published on ${topic} within ${deadlineMs} ms`));
    }, deadlineMs);
    aedes.on('publish', onPublish);
  });
}

/** For a test file: a `start` that makes one hooked aedes per test, closed after it. */
export function hookedAedesPerTest(): (options?: TestBrokerOptions) => Promise<HookedAedes> {
  let broker: HookedAedes | undefined;
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  return async (options = {}) => (broker = await startHookedAedes(options));
}
