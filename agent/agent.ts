import { randomUUID } from 'node:crypto';
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Logger } from 'pino';
import { SettingsError, topics } from '../contract/index.js';
import { ClockMonitor } from './readings/clock.js';
import { serveCommands } from './commands/index.js';
import { ConfirmationTracker } from './outbox/confirmation-tracker.js';
import type { AgentConfig } from './config-schema.js';
import { settlesWithin } from '../contract/deadline.js';
import { checkPortListing, createDrivers } from './drivers/drivers.js';
import { serveHealth } from './health/health.js';
import { AgentMetrics } from './health/metrics.js';
import { connectMqtt, readTlsFiles } from './mqtt/mqtt-connection.js';
import { DurableOutbox } from './outbox/outbox.js';
import { Presence } from './mqtt/presence.js';
import { Publisher } from './mqtt/publisher.js';
import { ReadingPipeline } from './readings/reading-pipeline.js';
import { SensorControl } from './readings/sensor-control.js';
import { SensorHealthBoard } from './readings/sensor-health.js';
import { type AgentPlan, planAgent } from './sensor-plan.js';
import { Closers } from '../contract/closers.js';
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

/**
 * Parts are built in dependency order, each closer registered as its part exists: stop() runs the
 * list newest first, each step bounded, and a start that throws part-way runs it too.
 */
export function startAgent(config: AgentConfig, { log, binding }: AgentDependencies): RunningAgent {
  const { plan, problems } = planAgent(config);
  if (!plan) throw new SettingsError(problems);
  // What can refuse to start is done first, before anything runs that would need stopping.
  const tls = readTlsFiles(config.mqtt.tls);
  const outbox = new DurableOutbox(config.dataDir, config.outbox, config.confirm);
  const parts = new Closers((error) => log.warn({ err: error }, 'closing the parts of a failed start failed'));
  parts.add(() => outbox.close());
  // If a later part throws, the MQTT connection, the clock and the outbox built before it are closed.
  return parts.stepSync(() => assembleAgent(parts, { config, plan, tls, outbox, log, binding }));
}

interface AssemblyInputs {
  config: AgentConfig;
  plan: AgentPlan;
  tls: ReturnType<typeof readTlsFiles>;
  outbox: DurableOutbox;
  log: Logger;
  binding: BindingInterface | undefined;
}

function assembleAgent(parts: Closers, { config, plan, tls, outbox, log, binding }: AssemblyInputs): RunningAgent {
  const startedAt = Date.now();
  // A time-ordered, unique id for this start; the contract only needs it to be new per start.
  const boot = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const { device } = config;
  const clock = new ClockMonitor();
  void clock.start();
  parts.add(() => clock.stop());
  const board = new SensorHealthBoard(
    device,
    plan.sensors.map((sensor) => sensor.id),
  );
  const farewell = { drained: false };
  const link = startLink(parts, farewell, { config, tls, plan, boot, board, outbox, log });
  const metrics = agentMetrics({ plan, board, outbox, link });
  const { pipeline, drivers } = startReading(parts, { plan, boot, board, outbox, metrics, clock, link, log, binding });
  const commands = startCommands({ config, plan, boot, startedAt, board, outbox, clock, metrics, link, pipeline, drivers, log });
  // Before the reading parts' closers, so it runs ahead of them: a command waiting for a reading ends now with a reply, not at its deadline.
  parts.add(() => commands.stop());
  const health = config.health.enabled
    ? serveHealth({
        host: config.health.host,
        port: config.health.port,
        registry: metrics.registry,
        log: log.child({ component: 'agent:health' }),
        health: () => healthReport({ device, boot, board, outbox, pipeline, commands, link }),
      })
    : undefined;
  parts.add(() => health?.close());

  for (const driver of drivers) driver.start();
  const agentLog = log.child({ component: 'agent' });
  const ready = Promise.all([checkPortListing(plan.ports, binding), health?.started]).then(() => {
    const ports = plan.ports.map(({ name, path, driver }) => ({ name, path, driver }));
    agentLog.info({ device, boot, ports, sensors: plan.sensors.length, backlog: outbox.depth, healthPort: health?.port }, 'agent started');
  });
  // A caller that does not wait for `ready` must not get an unhandled rejection for it.
  ready.catch(() => undefined);

  const stop = async () => {
    await parts.close();
    agentLog.info({ drained: farewell.drained, left: outbox.depth, ...pipeline.stats }, 'agent stopped');
  };
  let stopping: Promise<void> | undefined;
  const stats = Object.defineProperties(pipeline.stats, {
    outboxDepth: { get: () => outbox.depth, enumerable: true },
    readingsSent: { get: () => link.publisher.stats.readingsSent, enumerable: true },
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

interface CommandInputs {
  config: AgentConfig;
  plan: AgentPlan;
  boot: string;
  startedAt: number;
  board: SensorHealthBoard;
  outbox: DurableOutbox;
  clock: ClockMonitor;
  metrics: AgentMetrics;
  link: Link;
  pipeline: ReadingPipeline;
  drivers: ReturnType<typeof createDrivers>;
  log: Logger;
}

/** The commands the agent answers on cmd/v1/{device}/+. */
function startCommands(inputs: CommandInputs) {
  const { config, plan, boot, startedAt, board, outbox, clock, metrics, link, pipeline, drivers, log } = inputs;
  const { device } = config;
  const { client, presence, publisher, confirmations } = link;
  return serveCommands({
    client,
    device,
    control: new SensorControl(plan.sensors, plan.ports, drivers, pipeline),
    board,
    presence,
    outbox: { outbox, confirmBy: config.confirm.by, confirmations: confirmations?.stats, replaying: () => publisher.replaying },
    resend: () => publisher.resend(),
    ping: { device, boot, agentVersion: packageVersion(), startedAt, clock: () => clock.state() },
    clock: () => clock.state(),
    metrics,
    log: log.child({ component: 'agent:commands' }),
  });
}

interface ReadingInputs {
  plan: AgentPlan;
  boot: string;
  board: SensorHealthBoard;
  outbox: DurableOutbox;
  metrics: AgentMetrics;
  clock: ClockMonitor;
  link: Link;
  log: Logger;
  binding: BindingInterface | undefined;
}

/** Ports and their drivers → reading pipeline (sampling, clock) → outbox; the publisher is told of each commit. */
function startReading(parts: Closers, { plan, boot, board, outbox, metrics, clock, link, log, binding }: ReadingInputs) {
  const pipeline = new ReadingPipeline({
    boot,
    sensors: plan.sensors,
    outbox,
    board,
    metrics,
    clock: () => clock.state(),
    committed: (lastSeq) => link.publisher.readingsAdded(lastSeq),
    stateChanged: () => link.presence.sensorsChanged(),
    log: log.child({ component: 'agent:readings' }),
  });
  parts.add(() => pipeline.flush());
  const drivers = createDrivers(plan.ports, pipeline, log, binding);
  parts.add(() => Promise.all(drivers.map((driver) => driver.stop())));
  return { pipeline, drivers };
}

interface LinkInputs {
  config: AgentConfig;
  tls: ReturnType<typeof readTlsFiles>;
  plan: AgentPlan;
  boot: string;
  board: SensorHealthBoard;
  outbox: DurableOutbox;
  log: Logger;
}

type Link = ReturnType<typeof startLink>;

/**
 * The MQTT side: the connection, the presence (birth, will), the publisher and, with confirm.by
 * backend, the confirmation tracker. On stop: the outbox's readings are sent within
 * `shutdown.flushMs`, then `offline` is said, then the connection ends, each bounded.
 */
function startLink(parts: Closers, farewell: { drained: boolean }, inputs: LinkInputs) {
  const { config, tls, plan, boot, board, outbox, log } = inputs;
  const { device } = config;
  const presence = new Presence({
    device,
    boot,
    agentVersion: packageVersion(),
    sensors: plan.sensors,
    board,
    log: log.child({ component: 'agent:presence' }),
  });
  const mqttLog = log.child({ component: 'agent:mqtt' });
  const connection = connectMqtt({
    settings: config.mqtt,
    tls,
    device,
    willTopic: topics.status(device),
    will: () => presence.status('offline'),
    log: mqttLog,
  });
  const { client } = connection;
  let saidGoodbye = false;
  // A clean DISCONNECT when the broker answers and nothing waits for a PUBACK (MQTT.js would
  // wait for it, for ever if the broker is gone); otherwise the socket is dropped.
  parts.add(() => settlesWithin(connection.end(!(saidGoodbye && farewell.drained)), GOODBYE_MS));
  // Attached first, so that at each connection the birth goes out before any reading.
  presence.attach(client);
  parts.add(() =>
    settlesWithin(
      presence.goodbye().then(() => (saidGoodbye = true)),
      GOODBYE_MS,
    ),
  );
  const { publisher, confirmations } = startPublishing(parts, farewell, {
    config,
    client,
    outbox,
    log: mqttLog,
    confirmLog: log.child({ component: 'agent:confirm' }),
  });
  const confirmBy = config.confirm.by;
  return { client, connection, presence, publisher, confirmations, confirmBy, unconfirmed: countUnconfirmed(outbox) };
}

interface PublishingInputs {
  config: AgentConfig;
  client: ReturnType<typeof connectMqtt>['client'];
  outbox: DurableOutbox;
  log: Logger;
  confirmLog: Logger;
}

/**
 * The publisher (live and replay lanes) and, with confirm.by backend, the confirmation tracker.
 * On stop, the outbox's readings are sent within `shutdown.flushMs`.
 */
function startPublishing(parts: Closers, farewell: { drained: boolean }, { config, client, outbox, log, confirmLog }: PublishingInputs) {
  const { device } = config;
  const { batchMaxReadings, batchIntervalMs, ackTimeoutMs } = config.mqtt;
  const confirmBy = config.confirm.by;
  const publisher = new Publisher({
    client,
    outbox,
    device,
    log,
    batchMaxReadings,
    batchIntervalMs,
    ackTimeoutMs,
    confirmBy,
    replay: config.replay,
  });
  const confirmations =
    confirmBy === 'backend'
      ? new ConfirmationTracker({ client, outbox, device, resend: () => publisher.resend(), log: confirmLog })
      : undefined;
  // Readings sent under confirm.by backend that nothing will confirm now: send them again.
  if (!confirmations) outbox.sent.resendAll();
  parts.add(async () => {
    // The outbox is durable, so this only saves the readings a wait for the next start; bounded,
    // because the broker may be the thing that is gone.
    // With confirm.by backend, until the backend has confirmed them too: they are not sent again at the next start.
    farewell.drained = await settlesWithin(
      publisher.drain().then(() => confirmations?.untilAllConfirmed()),
      config.shutdown.flushMs,
    );
    publisher.stop();
    confirmations?.stop();
  });
  return { publisher, confirmations };
}

/** Counts rows: read at most once a second, however often /metrics, /healthz and `outbox` ask. */
function countUnconfirmed(outbox: DurableOutbox) {
  return () => {
    const now = Date.now();
    const { count, oldestTs } = outbox.sent.unconfirmed(1000, now);
    return { count, oldestAgeMs: oldestTs === undefined ? 0 : Math.max(0, now - oldestTs) };
  };
}

function agentMetrics({
  plan,
  board,
  outbox,
  link,
}: {
  plan: AgentPlan;
  board: SensorHealthBoard;
  outbox: DurableOutbox;
  link: Link;
}): AgentMetrics {
  const { client, connection, publisher, confirmations, unconfirmed } = link;
  return new AgentMetrics({
    outboxDepth: () => outbox.depth,
    outboxOldestAgeMs: () => outbox.oldestAgeMs(),
    mqttConnected: () => client.connected,
    sensorStates: () => plan.sensors.map(({ id }) => [id, board.get(id)?.state ?? 'disconnected'] as const),
    readingsSent: () => ({ sent: publisher.stats.readingsSent, replayed: publisher.stats.readingsReplayed }),
    reconnects: () => connection.reconnects,
    unconfirmed,
    resent: () => confirmations?.stats.resent ?? { timeout: 0, hole: 0 },
  });
}

interface HealthInputs {
  device: string;
  boot: string;
  board: SensorHealthBoard;
  outbox: DurableOutbox;
  pipeline: ReadingPipeline;
  commands: { readonly subscribed: boolean };
  link: Link;
}

function healthReport({ device, boot, board, outbox, pipeline, commands, link }: HealthInputs) {
  const { client, connection, publisher, confirmations, confirmBy, unconfirmed } = link;
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
}
