// Watching an agent from outside, as the backend and an operator do: its readings, status and
// sensor states on the broker, and its /metrics.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  type DeviceStatus,
  type Reading,
  type SensorsHealth,
  decodeDeviceStatus,
  decodeReadingBatch,
  decodeSensorsHealth,
  topics,
} from '../../contract/index.js';
import { type Logger, pino } from 'pino';
import type { RunningProcess } from './process.js';

export interface ObservedReading extends Reading {
  boot: string;
  /** When the observer received it (ms), for order-of-arrival checks. */
  at: number;
}

export interface AgentObserver {
  /** Every reading received, in order of arrival, duplicates included. */
  readonly readings: ObservedReading[];
  readonly statuses: DeviceStatus[];
  readonly sensors: SensorsHealth[];
  /** Payloads on the agent's topics that failed the contract. */
  readonly invalid: string[];
  readonly client: MqttClient;
  /** The latest state of `sensor` on the sensors topic. */
  sensorState(sensor: string): SensorsHealth['sensors'][number] | undefined;
  /** Every state `sensor` went through, in order, without repeats. */
  sensorHistory(sensor: string): string[];
  /** The readings of one seq each (the first of any duplicates), by seq. */
  uniqueBySeq(): Map<number, ObservedReading>;
  stop: () => Promise<void>;
}

/**
 * Subscribes (QoS 1) to a device's readings, status and sensors topics. With `clientId` and
 * `clean: false` the subscription survives the observer's and the broker's restarts, so no
 * reading published while it was away is missed.
 */
export async function observeAgent(url: string, device: string, options: IClientOptions = {}): Promise<AgentObserver> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 200, connectTimeout: 5000, ...options });
  const readings: ObservedReading[] = [];
  const statuses: DeviceStatus[] = [];
  const sensors: SensorsHealth[] = [];
  const invalid: string[] = [];
  client.on('message', (topic, payload) => {
    if (topic === topics.readings(device)) {
      const decoded = decodeReadingBatch(device, payload);
      if (!decoded.ok) return void invalid.push(`${topic}: ${decoded.cause}`);
      const at = Date.now();
      for (const reading of decoded.value.readings) readings.push({ ...reading, boot: decoded.value.boot, at });
    } else if (topic === topics.status(device)) {
      const decoded = decodeDeviceStatus(device, payload);
      if (decoded.ok) statuses.push(decoded.value);
      else invalid.push(`${topic}: ${decoded.cause}`);
    } else if (topic === topics.sensors(device)) {
      const decoded = decodeSensorsHealth(device, payload);
      if (decoded.ok) sensors.push(decoded.value);
      else invalid.push(`${topic}: ${decoded.cause}`);
    }
  });
  await client.subscribeAsync([topics.readings(device), topics.status(device), topics.sensors(device)], { qos: 1 });
  const sensorState = (sensor: string) => sensors.at(-1)?.sensors.find((entry) => entry.sensor === sensor);
  return {
    readings,
    statuses,
    sensors,
    invalid,
    client,
    sensorState,
    sensorHistory(sensor) {
      const states = sensors.flatMap((report) => report.sensors.filter((entry) => entry.sensor === sensor).map((entry) => entry.state));
      return states.filter((state, i) => state !== states[i - 1]);
    },
    uniqueBySeq() {
      const bySeq = new Map<number, ObservedReading>();
      for (const reading of readings) if (!bySeq.has(reading.seq)) bySeq.set(reading.seq, reading);
      return bySeq;
    },
    stop: () => client.endAsync(true),
  };
}

/** One sample of a metric from an agent's /metrics (0 when absent). */
export async function agentMetric(healthPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricIn(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text(), name, labels);
}

/** A sample of `name` with `labels` in a Prometheus text exposition; 0 when absent (a counter not incremented yet is not exported). */
export function metricIn(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (wanted.every(([key, value]) => have.get(key) === value)) return Number(match[3]);
  }
  return 0;
}

/** The health port an agent run as a process listens on, from its "agent started" log line. */
export async function healthPortOf(agent: RunningProcess): Promise<number> {
  const line = await agent.waitForLine(/"msg":"agent started"/, 20_000);
  const port = (JSON.parse(line) as { healthPort?: number }).healthPort;
  if (port === undefined) throw agent.error('the agent started without a health port');
  return port;
}

/** A pino logger whose JSON lines are kept, for checks on what an in-process agent logged. */
export function capturedLog(level = 'info'): {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  find: (msg: string) => Array<Record<string, unknown>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines, find: (msg) => lines.filter((line) => line.msg === msg) };
}
