import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Reading } from '../contract/index.js';
import { Closers } from '../contract/closers.js';
import { describeListenFailure } from '../contract/listen.js';
import { Alerting } from './alerts/alerting.js';
import { CommandClient } from './commands/command-client.js';
import { GapFiller, type GapFillerOptions } from './commands/gap-filler.js';
import type { BackendConfig } from './config.js';
import { BackendError } from './errors.js';
import { type AppDependencies, buildApp } from './http/app.js';
import { Ingest } from './ingest/ingest.js';
import { createSession } from './ingest/mqtt-session.js';
import { BackendMetrics } from './metrics.js';
import { DeviceRegistry } from './registry/device-registry.js';
import { RetentionTimer } from './retention-timer.js';
import { openReadingStore } from './store/open-store.js';
import type { ReadingStore } from './store/reading-store.js';

export interface RunningBackend {
  readonly port: number;
  readonly app: FastifyInstance;
  readonly store: ReadingStore;
  readonly registry: DeviceRegistry;
  readonly metrics: BackendMetrics;
  readonly ingest: Ingest;
  readonly alerting: Alerting;
  readonly commands: CommandClient;
  /** Absent when commands.fillGapsAfterMs is 0. */
  readonly gapFiller: GapFiller | undefined;
  close(): Promise<void>;
}

export interface BackendStartOptions {
  /** The --config file, named in messages. */
  configFile?: string | undefined;
  /** Re-reads the settings on SIGHUP (alert rules); throws SettingsError on a bad file. */
  reloadConfig?: (() => BackendConfig) | undefined;
}

/**
 * Starts the backend: the store, the registry, MQTT ingest, retention and the HTTP API. The API
 * does not wait for the broker: it answers (from the store) while ingest is still connecting.
 * Parts are built in dependency order, each closer registered as its part exists: a start that
 * fails part-way and close() run the same list, newest first.
 */
export async function startBackend(config: BackendConfig, log: Logger, options: BackendStartOptions = {}): Promise<RunningBackend> {
  const parts = new Closers((error) => log.warn({ err: error }, 'closing the parts of a failed start failed'));
  const metrics = new BackendMetrics();
  const store = await parts.build(
    () => openReadingStore(config, metrics, log),
    (built) => built.close(),
  );
  const registry = await parts.build(
    () => new DeviceRegistry(config.dataDir),
    (built) => built.close(),
  );
  const { ingest, commands, alerting } = await startMessaging(parts, config, log, options, { store, registry, metrics });
  alerting.start();
  const retention = new RetentionTimer(store, config.store.retentionIntervalMs, metrics, log.child({ component: 'backend:retention' }));
  parts.add(async () => {
    retention.stop();
    await retention.idle();
  });
  const gapFiller = startGapFiller(config, { store, registry, commands, metrics, ingest, log });
  parts.add(() => gapFiller?.stop());
  const app = await parts.build(
    () => buildApp(appOptions(config, log, { store, registry, metrics, ingest, alerting, commands, retention })),
    (built) => built.close(),
  );
  // app.close() waits for the requests in flight, a command waiting for its reply among them
  // (up to commands.maxTimeoutMs): those answer 503 at once instead, and no new one is sent.
  parts.add(() => {
    gapFiller?.stop();
    commands.close();
  });
  await parts.step(() => listenHttp(app, config));
  retention.start();
  const { port } = app.server.address() as AddressInfo;
  log.info({ port, dataDir: config.dataDir, store: config.store.kind }, 'HTTP API ready');
  return { port, app, store, registry, metrics, ingest, alerting, commands, gapFiller, close: () => parts.close() };
}

interface BuiltParts {
  store: ReadingStore;
  registry: DeviceRegistry;
  metrics: BackendMetrics;
}

/**
 * The backend's MQTT session and the three parts that use it, in dependency order: alerting
 * publishes on it; ingest reads on it and hands alerting what it reads; commands go out on it, and
 * their replies come back through ingest's `commandReply` events. The session connects last, once
 * every handler is on, so no message can arrive before them.
 */
async function startMessaging(parts: Closers, config: BackendConfig, log: Logger, options: BackendStartOptions, built: BuiltParts) {
  const client = createSession(config.mqtt);
  const alerting = await parts.build(
    () => new Alerting({ ...options, config, mqttClient: client, metrics: built.metrics, log: log.child({ component: 'backend:alerts' }) }),
    (part) => part.close(),
  );
  // Registered after alerting, so it stops first: its last commit, as it stops, is judged by alerting.
  const ingest = await parts.build(
    () =>
      new Ingest({
        ...built,
        client,
        mqtt: config.mqtt,
        batching: config.ingest,
        log: log.child({ component: 'backend:ingest' }),
        observer: alerting,
        commandReplies: true,
      }),
    (part) => part.stop(),
  );
  const commands = await parts.build(
    () =>
      new CommandClient({
        client,
        registry: built.registry,
        metrics: built.metrics,
        log: log.child({ component: 'backend:commands' }),
        maxInFlightPerDevice: config.commands.maxInFlightPerDevice,
        maxInFlight: config.commands.maxInFlight,
        problem: () => ingest.commandsProblem,
      }),
    (part) => part.close(),
  );
  ingest.events.on('commandReply', (device, command, reply) => commands.takeReply(device, command, reply));
  // Last: every handler is on before the first message can arrive.
  ingest.start();
  return { ingest, commands, alerting };
}

function appOptions(
  config: BackendConfig,
  log: Logger,
  deps: BuiltParts & { ingest: Ingest; alerting: Alerting; commands: CommandClient; retention: RetentionTimer },
): AppDependencies {
  const { store, registry, metrics, ingest, alerting, commands, retention } = deps;
  return {
    store,
    registry,
    metrics,
    log: log.child({ component: 'backend:http' }),
    config,
    alerts: alerting,
    commands,
    readings: (listener) => {
      // The batch as ingest decoded it, not a copy per reading: the feed makes those only for a client that reads them.
      const forward = (device: string, boot: string, readings: readonly Reading[], receivedAt: number) =>
        listener([{ device, boot, receivedAt, readings }]);
      ingest.events.on('stored', forward);
      return () => ingest.events.off('stored', forward);
    },
    readiness: { mqttConnected: () => ingest.connected, mqttProblem: () => ingest.mqttProblem, storeFailure: () => ingest.storeFailure },
    admin: {
      runRetention: () => retention.runNow(),
      ingestState: () => ({
        connected: ingest.connected,
        uncommittedReadings: ingest.uncommittedReadings,
        storeFailure: ingest.storeFailure?.message ?? null,
      }),
    },
  };
}

async function listenHttp(app: FastifyInstance, config: BackendConfig): Promise<void> {
  try {
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    const { inUse, message } = describeListenFailure(error, { host: config.http.host, port: config.http.port, name: 'HTTP port' });
    throw new BackendError(inUse ? 'BACKEND_PORT_IN_USE' : 'BACKEND_LISTEN_FAILED', message, { cause: error });
  }
}

/** Gap filling, fed by ingest's commit events; `undefined` when commands.fillGapsAfterMs is 0. */
function startGapFiller(
  config: BackendConfig,
  deps: Pick<GapFillerOptions, 'store' | 'registry' | 'commands' | 'metrics'> & { ingest: Ingest; log: Logger },
): GapFiller | undefined {
  const { fillGapsAfterMs, fillGapsRepeatMs, defaultTimeoutMs } = config.commands;
  if (fillGapsAfterMs === 0) return undefined;
  const { ingest, log, ...rest } = deps;
  const filler = new GapFiller({
    ...rest,
    log: log.child({ component: 'backend:gap-filler' }),
    fillAfterMs: fillGapsAfterMs,
    repeatMs: fillGapsRepeatMs,
    timeoutMs: defaultTimeoutMs,
  });
  ingest.events.on('committed', (commit) => filler.committed(commit.result.gapsOpened));
  ingest.events.on('stored', (device) => filler.stored(device));
  // A device replaying its backlog fills its gaps on its own: not asked while it does.
  ingest.events.on('received', (device, boot, readings, receivedAt) => {
    if (readings.some((reading) => reading.replay)) filler.replayed(device, boot, receivedAt);
  });
  return filler;
}
