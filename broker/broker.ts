// Assembles the broker: metrics, credentials, persistence, aedes with our hooks, listeners.
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { attachClient } from './listeners/client-attach.js';
import type { BrokerConfig } from './config.js';
import { CONCURRENCY, createAedes, installHooks, listenAedes, loadCredentials } from './hooks/install.js';
import { ConnectionRegistry, type ListenerName } from './hooks/connections.js';
import { LimitReporter } from './guards/limit-reporter.js';
import type { Listening } from './listeners/listen.js';
import type { ListenerDeps } from './listeners/listener-deps.js';
import { BrokerMetrics } from './metrics/metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { Closers } from '../contract/closers.js';
import { createPersistence } from './persistence.js';
import { Sessions } from './hooks/sessions.js';
import { startTcpListener } from './listeners/tcp-listener.js';
import { startTlsListener } from './listeners/tls-listener.js';
import { startWsListener } from './listeners/ws-listener.js';

export interface RunningBroker {
  /** The MQTT port actually bound (useful with port 0): TCP's, or TLS's, or WebSocket's if TCP is off. */
  readonly port: number;
  /** Every port bound, by listener, and the metrics port. */
  readonly ports: Readonly<Partial<Record<ListenerName | 'metrics', number>>>;
  readonly aedes: Aedes;
  /** The broker's Prometheus registry (also served on metrics.port when enabled). */
  readonly metrics: Registry;
  /** Reads the credentials file again (the CLI calls this on SIGHUP). */
  reloadCredentials(): Promise<void>;
  /** Graceful stop: no new connections, clients closed, state flushed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Parts are built in dependency order, each closer registered as its part exists: a start that
 * fails part-way and close() run the same list, newest first.
 */
export async function startBroker(config: BrokerConfig, log: Logger): Promise<RunningBroker> {
  const parts = new Closers((error) => log.warn({ err: error }, 'closing the parts of a failed start failed'));
  const authLog = log.child({ component: 'broker:auth' });
  const listenerLog = log.child({ component: 'broker:listener' });
  const enabled = (['tcp', 'tls', 'ws'] as const).filter((name) => config[name].enabled);
  // The gauges read these at scrape time, after both exist.
  const metrics: BrokerMetrics = new BrokerMetrics({
    openConnections: (listener): number => connections.count(listener as ListenerName),
    listeners: () => enabled,
    connectedClients: (): number => broker.connectedClients,
  });
  const limits: LimitReporter = new LimitReporter(metrics, log.child({ component: 'broker:limits' }));
  const connections: ConnectionRegistry = new ConnectionRegistry(config.limits.maxConnections, limits, listenerLog);
  const sessions = new Sessions();
  const credentials = await parts.build(
    () => loadCredentials(config, { sessions, metrics, log: authLog }),
    (built) => built.close(),
  );
  const persistence = await parts.build(
    () => createPersistence(config.persistence, CONCURRENCY, log.child({ component: 'broker:persistence' })),
    (built) => built.close(),
  );
  const broker: Aedes = createAedes(config, persistence);
  installHooks(broker, { config, sessions, connections, credentials: () => credentials.current, metrics, limits, log: authLog }, log);
  const listening: Array<[ListenerName | 'metrics', Listening]> = [];
  parts.add(() => closeGracefully(broker, connections, listening, config.shutdown.graceMs));
  await parts.step(async () => {
    await listenAedes(broker, sessions);
    const deps: ListenerDeps = {
      connections,
      limits,
      connectTimeoutMs: config.limits.connectTimeoutMs,
      log: listenerLog,
      attach: (stream, info, request) =>
        attachClient({ aedes: broker, connections, sessions, limits, config: config.limits }, stream, info, request),
    };
    await startListeners(config, deps, metrics, log, listening);
  });
  const ports = Object.fromEntries(listening.map(([name, listener]) => [name, listener.port]));
  const port = ports.tcp ?? ports.tls ?? ports.ws ?? 0;
  if (config.auth.allowAnonymous) {
    authLog.warn(
      { role: config.auth.anonymousRole },
      'auth.allowAnonymous is on: clients without credentials connect with this role. For development only.',
    );
  }
  log.info({ port, ports, brokerId: broker.id, persistence: config.persistence.backend }, 'MQTT listener ready');
  return {
    port,
    ports,
    aedes: broker,
    metrics: metrics.registry,
    reloadCredentials: () => credentials.reload(),
    close: () => parts.close(),
  };
}

/** Starts the enabled listeners, each added to `listening` as it is bound (so a failure closes those before it). */
async function startListeners(
  config: BrokerConfig,
  deps: ListenerDeps,
  metrics: BrokerMetrics,
  log: Logger,
  listening: Array<[ListenerName | 'metrics', Listening]>,
): Promise<void> {
  if (config.tcp.enabled) listening.push(['tcp', await startTcpListener(config.tcp, deps)]);
  if (config.tls.enabled) listening.push(['tls', await startTlsListener(config.tls, deps)]);
  if (config.ws.enabled) listening.push(['ws', await startWsListener(config.ws, config.limits.maxPacketBytes, deps)]);
  if (config.metrics.enabled)
    listening.push(['metrics', await startMetricsServer(config.metrics, metrics.registry, log.child({ component: 'broker:metrics' }))]);
}

/**
 * Stops aedes and its listeners together: a listener's close resolves only once its connections
 * have ended, and those end when aedes closes its clients (or, after the grace, are destroyed).
 */
async function closeGracefully(
  broker: Aedes,
  connections: ConnectionRegistry,
  listening: ReadonlyArray<[ListenerName | 'metrics', Listening]>,
  graceMs: number,
): Promise<void> {
  const closed = Promise.all(listening.map(([, listener]) => listener.close()));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, graceMs);
    broker.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  connections.destroyAll(); // whatever aedes did not close: half-open, TLS handshakes, plain HTTP
  await closed;
}
