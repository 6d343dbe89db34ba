import { randomUUID } from 'node:crypto';
import type { BindingInterface } from '@serialport/bindings-interface';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { CONTRACT_VERSION, type DeviceStatus, encodePayload, topics } from '../contract/index.js';
import { ClockMonitor } from './clock.js';
import type { AgentConfig } from './config.js';
import { type ParsedLine, parseSensorLine } from './line-parser.js';
import { DurableOutbox, type NewReading } from './outbox.js';
import { Publisher } from './publisher.js';
import { SerialSource } from './serial-source.js';
import { packageVersion } from './version.js';

/** How long a stopping agent waits for the broker to take its `offline` status. */
const STOP_GRACE_MS = 1000;

/** Whether `promise` settled (either way) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  const settled = promise.then(
    () => true,
    () => true,
  );
  const result = await Promise.race([settled, timeout]);
  clearTimeout(timer);
  return result;
}

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
  stop(): Promise<void>;
}

export interface AgentDependencies {
  log: Logger;
  /** serialport binding for the sensor; the operating system's unless given. */
  binding?: BindingInterface;
}

/** Starts the agent: serial source → parser → durable outbox → MQTT publisher. */
export function startAgent(config: AgentConfig, { log, binding }: AgentDependencies): RunningAgent {
  // A time-ordered, unique id for this start; the contract only needs it to be new per start.
  const boot = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const outbox = new DurableOutbox(config.dataDir);
  const clock = new ClockMonitor();
  void clock.start();
  const status = (state: DeviceStatus['state']): Buffer =>
    encodePayload<DeviceStatus>({
      v: CONTRACT_VERSION,
      device: config.device,
      state,
      ts: Date.now(),
      boot,
      agentVersion: packageVersion(),
      sensors: [{ id: config.sensor.id, unit: config.sensor.unit }],
    });
  const client = mqtt.connect(config.mqtt.url, {
    // A device user must connect with its user name as client id (the broker enforces it).
    clientId: config.mqtt.username ?? `furnace-agent-${config.device}`,
    username: config.mqtt.username,
    password: config.mqtt.password,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    will: { topic: topics.status(config.device), payload: status('offline'), qos: 1, retain: true },
  });
  const mqttLog = log.child({ component: 'agent:mqtt' });
  const publisher = new Publisher({ client, outbox, device: config.device, log: mqttLog, ...config.mqtt });
  let wasConnected = false;
  client.on('connect', () => {
    mqttLog.info({ url: config.mqtt.url, backlog: outbox.depth }, wasConnected ? 'reconnected to broker' : 'connected to broker');
    wasConnected = true;
    client.publish(topics.status(config.device), status('online'), { qos: 1, retain: true });
  });
  client.on('offline', () => mqttLog.warn({ url: config.mqtt.url }, 'broker unreachable; readings wait in the outbox'));
  client.on('error', (error) => mqttLog.debug({ err: error }, 'mqtt error'));

  const linesRefused: Record<string, number> = {};
  const stats: AgentStats = {
    linesRead: 0,
    readingsStored: 0,
    outboxWriteErrors: 0,
    linesRefused,
    get outboxDepth() {
      return outbox.depth;
    },
    get readingsSent() {
      return publisher.stats.readingsSent;
    },
  };
  const serialLog = log.child({ component: 'agent:serial' });
  const refuse = (reason: string, line: string) => {
    linesRefused[reason] = (linesRefused[reason] ?? 0) + 1;
    // Loud once per cause, then quiet: a noisy line must not flood the log.
    const level = linesRefused[reason] === 1 ? 'warn' : 'debug';
    serialLog[level]({ reason, line: line.slice(0, 40), count: linesRefused[reason] }, 'sensor line refused');
  };
  const source = new SerialSource({ ...config.serial, binding, log: serialLog });
  source.on('overlong', (bytes) => refuse('too_long', `(${bytes} bytes without a newline)`));
  source.on('line', (line) => {
    stats.linesRead++;
    const parsed: ParsedLine = parseSensorLine(line);
    const base = { ts: Date.now(), sensor: config.sensor.id, unit: config.sensor.unit, clock: clock.state(), replay: !client.connected };
    let reading: NewReading;
    switch (parsed.kind) {
      case 'value':
        // Outside the sensor's range (hardware spec §4) the value is kept, but not trusted.
        reading = { ...base, value: parsed.value, quality: parsed.outOfRange ? 'uncertain' : 'good' };
        break;
      case 'fault':
        // A fault is a reading too: a bad one, with no value, so the backend sees the sensor is broken.
        reading = { ...base, value: null, quality: 'bad' };
        break;
      case 'invalid':
        refuse(parsed.reason, line);
        return;
    }
    try {
      outbox.append(boot, reading);
    } catch (error) {
      // A full or failing disk: this reading cannot be kept, but the agent goes on for the next ones.
      stats.outboxWriteErrors++;
      serialLog.error({ err: error, failures: stats.outboxWriteErrors }, 'reading lost: the outbox cannot be written');
      return;
    }
    stats.readingsStored++;
    publisher.readingAdded();
  });
  source.start();
  log.info({ device: config.device, boot, serial: config.serial.path, backlog: outbox.depth }, 'agent started');

  return {
    boot,
    stats,
    async stop() {
      publisher.stop();
      clock.stop();
      await source.stop();
      // A clean stop says so itself (the will is only for unclean ones), but never waits long:
      // the broker may be stopping at the same moment, and then the PUBACK never comes.
      const offline = client.connected
        ? client.publishAsync(topics.status(config.device), status('offline'), { qos: 1, retain: true })
        : Promise.resolve(undefined);
      const sent = await settlesWithin(offline, STOP_GRACE_MS);
      await client.endAsync(!sent);
      outbox.close();
    },
  };
}
