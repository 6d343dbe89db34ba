import { randomUUID } from 'node:crypto';
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Logger } from 'pino';
import { SettingsError, topics } from '../contract/index.js';
import { ClockMonitor } from './clock.js';
import { serveCommands } from './commands/index.js';
import { ConfirmationTracker } from './confirmation-tracker.js';
import type { AgentConfig } from './config-schema.js';
import { settlesWithin } from './deadline.js';
import { checkPortListing, createDrivers } from './drivers.js';
import { serveHealth } from './health.js';
import { AgentMetrics } from './metrics.js';
import { connectMqtt, readTlsFiles } from './mqtt-connection.js';
import { DurableOutbox } from './outbox.js';
import { Presence } from './presence.js';
import { Publisher } from './publisher.js';
import { ReadingPipeline } from './reading-pipeline.js';
import { SensorControl } from './sensor-control.js';
import { SensorHealthBoard } from './sensor-health.js';
import { planAgent } from './sensor-plan.js';
import { packageVersion } from '../contract/package-version.js';

// The wiring: ports and their drivers → reading pipeline (sampling, clock) → durable outbox →
// publisher (live and replay lanes) → MQTT; presence (birth, will, sensor states), commands
// (cmd/v1/{device}/+) and the health endpoint beside them. Each part is in its own file; this one only joins them.

/** How long a stopping agent waits for the broker to take its `offline` status. */
const GOODBYE_MS = 1000;

export interface AgentStats {
  linesRead: number;
  readingsStored: number;
  /** Readings lost because the outbox could not be written (disk full, I/O error). */
  outboxWriteErrors: number;
  /** Lines refused, by reason: they are counted and logged, never published as values. */
  linesRefused: Record<string, number>;
  readonly outboxDepth: number;
  readonly readingsSent: number;
}

export interface RunningAgent {
  readonly boot: string;
  readonly stats: AgentStats;
  /** Resolves once the agent runs ("agent started" is logged); rejects if it cannot (the error says why). */
  readonly ready: Promise<void>;
  /** The port of /healthz and /metrics, once listening. */
  readonly healthPort: number | undefined;
  /** Stops reading, sends what it can within `shutdown.flushMs`, says goodbye, closes. Never hangs. */
  stop(): Promise<void>;
}

export interface AgentDependencies {
  log: Logger;
  /** serialport binding for the sensors; the operating system's unless given. */
  binding?: BindingInterface;
}

export function startAgent(config: AgentConfig, { log, binding }: AgentDependencies): RunningAgent {
  const { plan, problems } = planAgent(config);
  if (!plan) throw new SettingsError(problems);
  const startedAt = Date.now();
  // A time-ordered, unique id for this start; the contract only needs it to be new per start.
  const boot = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const { device } = config;
  const agentLog = log.child({ component: 'agent' });
  // What can refuse to start is done first, before anything runs that would need stopping.
  const tls = readTlsFiles(config.mqtt.tls);
  const outbox = new DurableOutbox(config.dataDir, config.outbox, config.confirm);
  const clock = new ClockMonitor();
  void clock.start();
  const board = new SensorHealthBoard(device, plan.sensors.map((sensor) => sensor.id));
  const presence = new Presence({ device, boot, agentVersion: packageVersion(), sensors: plan.sensors, board, log: log.child({ component: 'agent:presence' }) });
  const mqttLog = log.child({ component: 'agent:mqtt' });
  const connection = connectMqtt({ settings: config.mqtt, tls, device, willTopic: topics.status(device), will: () => presence.status('offline'), log: mqttLog });
  const { client } = connection;
  // Attached first, so that at each connection the birth goes out before any reading.
  presence.attach(client);
  const { batchMaxReadings, batchIntervalMs, ackTimeoutMs } = config.mqtt;
  const confirmBy = config.confirm.by;
  const publisher = new Publisher({ client, outbox, device, log: mqttLog, batchMaxReadings, batchIntervalMs, ackTimeoutMs, confirmBy, replay: config.replay });
  const confirmations =
    confirmBy === 'backend'
      ? new ConfirmationTracker({ client, outbox, device, resend: () => publisher.resend(), log: log.child({ component: 'agent:confirm' }) })
      : undefined;
  // Readings sent under confirm.by backend that nothing will confirm now: send them again.
  if (!confirmations) outbox.sent.resendAll();
  // Counts rows: read at most once a second, however often /metrics, /healthz and `outbox` ask.
  const unconfirmed = () => {
    const now = Date.now();
    const { count, oldestTs } = outbox.sent.unconfirmed(1000, now);
    return { count, oldestAgeMs: oldestTs === undefined ? 0 : Math.max(0, now - oldestTs) };
  };
  const metrics = new AgentMetrics({
    outboxDepth: () => outbox.depth,
    outboxOldestAgeMs: () => outbox.oldestAgeMs(),
    mqttConnected: () => client.connected,
    sensorStates: () => plan.sensors.map(({ id }) => [id, board.get(id)?.state ?? 'disconnected'] as const),
    readingsSent: () => ({ sent: publisher.stats.readingsSent, replayed: publisher.stats.readingsReplayed }),
    reconnects: () => connection.reconnects,
    unconfirmed,
    resent: () => confirmations?.stats.resent ?? { timeout: 0, hole: 0 },
  });
  const pipeline = new ReadingPipeline({
    boot,
    sensors: plan.sensors,
    outbox,
    board,
    metrics,
    clock: () => clock.state(),
    committed: (lastSeq) => publisher.readingsAdded(lastSeq),
    stateChanged: () => presence.sensorsChanged(),
    log: log.child({ component: 'agent:readings' }),
  });
  const drivers = createDrivers(plan.ports, pipeline, log, binding);
  const commands = serveCommands({
    client,
    device,
    control: new SensorControl(plan.sensors, plan.ports, drivers, pipeline),
    board,
    presence,
    outbox: { outbox, confirmBy, confirmations: confirmations?.stats, replaying: () => publisher.replaying },
    resend: () => publisher.resend(),
    ping: { device, boot, agentVersion: packageVersion(), startedAt, clock: () => clock.state() },
    clock: () => clock.state(),
    metrics,
    log: log.child({ component: 'agent:commands' }),
  });
  const healthReport = () => {
    const waiting = confirmations && unconfirmed();
    return {
      // Unhealthy only when the agent cannot do its job: keep readings. A dead broker or a
      // broken thermocouple is reported here, but is not the agent's failure.
      ok: pipeline.writable,
      device,
      boot,
      mqtt: { connected: client.connected, reconnects: connection.reconnects, replaying: publisher.replaying },
      outbox: {
        depth: outbox.depth,
        oldestAgeMs: outbox.oldestAgeMs(),
        dropped: outbox.dropped,
        writeErrors: pipeline.stats.outboxWriteErrors,
        writable: pipeline.writable,
      },
      confirm: {
        by: confirmBy,
        ...(confirmations && {
          unconfirmed: waiting?.count,
          oldestUnconfirmedAgeMs: waiting?.oldestAgeMs,
          subscribed: confirmations.stats.subscribed,
          confirmed: confirmations.stats.confirmed,
          lastConfirmedAgoMs: confirmations.stats.lastConfirmedAt === undefined ? null : Date.now() - confirmations.stats.lastConfirmedAt,
          resent: confirmations.stats.resent,
        }),
      },
      commands: { subscribed: commands.subscribed },
      sensors: board.payload().sensors,
    };
  };
  const health = config.health.enabled
    ? serveHealth({
        host: config.health.host,
        port: config.health.port,
        registry: metrics.registry,
        log: log.child({ component: 'agent:health' }),
        health: healthReport,
      })
    : undefined;

  for (const driver of drivers) driver.start();
  const ready = Promise.all([checkPortListing(plan.ports, binding), health?.started]).then(() => {
    const ports = plan.ports.map(({ name, path, driver }) => ({ name, path, driver }));
    agentLog.info({ device, boot, ports, sensors: plan.sensors.length, backlog: outbox.depth, healthPort: health?.port }, 'agent started');
  });
  // A caller that does not wait for `ready` must not get an unhandled rejection for it.
  ready.catch(() => undefined);

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    // First, so that a command waiting for a reading ends now with a reply, not at its deadline.
    commands.stop();
    clock.stop();
    await Promise.all(drivers.map((driver) => driver.stop()));
    pipeline.flush();
    // The outbox is durable, so this only saves the readings a wait for the next start; bounded,
    // because the broker may be the thing that is gone.
    const drained = await settlesWithin(publisher.drain(), config.shutdown.flushMs);
    publisher.stop();
    confirmations?.stop();
    let saidGoodbye = false;
    await settlesWithin(presence.goodbye().then(() => (saidGoodbye = true)), GOODBYE_MS);
    // A clean DISCONNECT when the broker answers and nothing waits for a PUBACK (MQTT.js would
    // wait for it, for ever if the broker is gone); otherwise the socket is dropped.
    await settlesWithin(connection.end(!(saidGoodbye && drained)), GOODBYE_MS);
    await health?.close();
    outbox.close();
    agentLog.info({ drained, left: outbox.depth, ...pipeline.stats }, 'agent stopped');
  };
  const stats = Object.defineProperties(pipeline.stats, {
    outboxDepth: { get: () => outbox.depth, enumerable: true },
    readingsSent: { get: () => publisher.stats.readingsSent, enumerable: true },
  }) as AgentStats;
  return {
    boot,
    stats,
    ready,
    get healthPort() {
      return health?.port;
    },
    stop: () => (stopping ??= stop()),
  };
}
