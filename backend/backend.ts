import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Reading } from '../contract/index.js';
import { describeListenFailure } from '../contract/listen.js';
import { Alerting } from './alerts/alerting.js';
import { CommandClient } from './commands/command-client.js';
import { GapFiller, type GapFillerOptions } from './commands/gap-filler.js';
import type { BackendConfig } from './config.js';
import { BackendError } from './errors.js';
import { buildApp } from './http/app.js';
import { Ingest } from './ingest/ingest.js';
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
 */
export async function startBackend(config: BackendConfig, log: Logger, options: BackendStartOptions = {}): Promise<RunningBackend> {
  const metrics = new BackendMetrics();
  const store = await openReadingStore(config, metrics, log);
  let registry: DeviceRegistry;
  try {
    registry = new DeviceRegistry(config.dataDir);
  } catch (error) {
    await store.close();
    throw error;
  }
  // Alerts publish on ingest's MQTT session, so ingest comes first and alerting right after it. No
  // message can reach the observer in between: they arrive from the network, after this synchronous set-up.
  let alerting: Alerting | undefined;
  let commands: CommandClient | undefined;
  const ingest = new Ingest({
    mqtt: config.mqtt,
    batching: config.ingest,
    store,
    registry,
    metrics,
    log: log.child({ component: 'backend:ingest' }),
    observer: {
      readings: (...args) => alerting?.readings(...args),
      readingsMany: (...args) => alerting?.readingsMany(...args),
      status: (...args) => alerting?.status(...args),
      statusCleared: (...args) => alerting?.statusCleared(...args),
      sensors: (...args) => alerting?.sensors(...args),
    },
    commandReplies: (...args) => commands?.takeReply(...args),
  });
  try {
    // Commands go out on ingest's session, and their replies come back through it.
    commands = new CommandClient({
      client: ingest.client,
      registry,
      metrics,
      log: log.child({ component: 'backend:commands' }),
      maxInFlightPerDevice: config.commands.maxInFlightPerDevice,
      maxInFlight: config.commands.maxInFlight,
      problem: () => ingest.commandsProblem,
    });
    alerting = new Alerting({ ...options, config, mqttClient: ingest.client, metrics, log: log.child({ component: 'backend:alerts' }) });
  } catch (error) {
    await ingest.stop();
    await store.close();
    registry.close();
    throw error;
  }
  const alerts = alerting;
  const commandClient = commands;
  alerts.start();
  const retention = new RetentionTimer(store, config.store.retentionIntervalMs, metrics, log.child({ component: 'backend:retention' }));
  const gapFiller = startGapFiller(config, { store, registry, commands: commandClient, metrics, ingest, log });
  const stopAll = async () => {
    gapFiller?.stop();
    commandClient.close();
    retention.stop();
    await ingest.stop();
    await alerts.close();
    await retention.idle();
    await store.close();
    registry.close();
  };

  let app: FastifyInstance;
  try {
    app = await buildApp({
      store,
      registry,
      metrics,
      log: log.child({ component: 'backend:http' }),
      config,
      alerts,
      commands: commandClient,
      readings: (listener) => {
        // The batch as ingest decoded it, not a copy per reading: the feed makes those only for a client that reads them.
        const forward = (device: string, boot: string, readings: readonly Reading[], receivedAt: number) => listener([{ device, boot, receivedAt, readings }]);
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
    });
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    await stopAll();
    const { inUse, message } = describeListenFailure(error, { host: config.http.host, port: config.http.port, name: 'HTTP port' });
    throw new BackendError(inUse ? 'BACKEND_PORT_IN_USE' : 'BACKEND_LISTEN_FAILED', message, { cause: error });
  }
  retention.start();
  const { port } = app.server.address() as AddressInfo;
  log.info({ port, dataDir: config.dataDir, store: config.store.kind }, 'HTTP API ready');
  return {
    port,
    app,
    store,
    registry,
    metrics,
    ingest,
    alerting: alerts,
    commands: commandClient,
    gapFiller,
    async close() {
      // app.close() waits for the requests in flight, a command waiting for its reply among them
      // (up to commands.maxTimeoutMs): those answer 503 at once instead, and no new one is sent.
      gapFiller?.stop();
      commandClient.close();
      await app.close();
      await stopAll();
    },
  };
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
