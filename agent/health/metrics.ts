import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SensorState } from '../../contract/index.js';

/** What the gauges read at scrape time, so nothing is counted twice or goes stale. */
export interface AgentGaugeSources {
  outboxDepth: () => number;
  outboxOldestAgeMs: () => number;
  mqttConnected: () => boolean;
  /** Each sensor's state; optional so a bare registry can be made in tests. */
  sensorStates?: () => Iterable<[sensor: string, state: SensorState]>;
  /** Readings sent by the broker's acknowledgement, total and as backlog (replay). */
  readingsSent?: () => { sent: number; replayed: number };
  /** Sent readings the backend has not confirmed yet (confirm.by backend). */
  unconfirmed?: () => { count: number; oldestAgeMs: number };
  /** Readings sent again because the backend did not confirm them, by reason. */
  resent?: () => Record<'timeout' | 'hole', number>;
  reconnects?: () => number;
}

const SENSOR_STATES: readonly SensorState[] = ['ok', 'stalled', 'disconnected', 'faulty'];

/** The agent's Prometheus metrics, on a registry of its own. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly linesRead = new Counter({
    name: 'furnace_agent_lines_read_total',
    help: 'Lines read from line sensors',
    registers: [this.registry],
  });
  readonly parseErrors = new Counter({
    name: 'furnace_agent_parse_errors_total',
    help: 'Sensor lines refused, by sensor and reason',
    labelNames: ['sensor', 'reason'],
    registers: [this.registry],
  });
  readonly modbusFailures = new Counter({
    name: 'furnace_agent_modbus_failures_total',
    help: 'Modbus polls that gave no good reading, by sensor and reason (timeout, crc, exception_NN)',
    labelNames: ['sensor', 'reason'],
    registers: [this.registry],
  });
  readonly readingsRead = new Counter({
    name: 'furnace_agent_readings_read_total',
    help: 'Readings taken from the sensors, before sampling',
    labelNames: ['sensor'],
    registers: [this.registry],
  });
  readonly readingsSampledOut = new Counter({
    name: 'furnace_agent_readings_sampled_out_total',
    help: 'Readings not kept by the sampling settings (minimum interval, deadband)',
    labelNames: ['sensor'],
    registers: [this.registry],
  });
  readonly readingsStored = new Counter({
    name: 'furnace_agent_readings_stored_total',
    help: 'Readings committed to the outbox',
    registers: [this.registry],
  });
  readonly readingsDropped = new Counter({
    name: 'furnace_agent_readings_dropped_total',
    help: 'Readings lost, by cause: outbox_full, expired (outbox caps), write_failed (disk)',
    labelNames: ['cause'],
    registers: [this.registry],
  });

  readonly commands = new Counter({
    name: 'furnace_agent_commands_total',
    help: 'Commands answered, by command (a name the agent does not know counts as "unknown") and outcome (ok, refused, failed)',
    labelNames: ['command', 'outcome'],
    registers: [this.registry],
  });
  readonly commandDuration = new Histogram({
    name: 'furnace_agent_command_duration_seconds',
    help: 'From the receipt of a command to its reply, by command',
    labelNames: ['command'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly commandDuplicates = new Counter({
    name: 'furnace_agent_command_duplicates_total',
    help: 'Requests received again (same requestId) and answered from the recent replies, not run again',
    registers: [this.registry],
  });
  readonly commandsDropped = new Counter({
    name: 'furnace_agent_commands_dropped_total',
    help: 'Requests that got no reply, by cause: not_json, too_large, schema (no readable requestId), topic, dispatcher_failed, reply_unpublished (the broker did not take the reply)',
    labelNames: ['cause'],
    registers: [this.registry],
  });

  constructor(sources: AgentGaugeSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'furnace_agent_' });
    const gauge = (name: string, help: string, read: GaugeRead, labelNames: string[] = []) =>
      gaugeFrom(this.registry, name, help, read, labelNames);
    gauge('furnace_agent_outbox_depth', 'Readings waiting in the outbox', (set) => set(sources.outboxDepth()));
    gauge('furnace_agent_outbox_oldest_age_seconds', 'Age of the oldest reading waiting in the outbox', (set) =>
      set(sources.outboxOldestAgeMs() / 1000),
    );
    gauge('furnace_agent_mqtt_connected', '1 while connected to the broker', (set) => set(sources.mqttConnected() ? 1 : 0));
    // Counters kept elsewhere (publisher, connection) are read at scrape time: gauges of totals
    // would break rate(); these only ever grow, so they are exposed as counters by name and type.
    counterFrom(
      this.registry,
      'furnace_agent_readings_sent_total',
      'Readings acknowledged by the broker',
      () => sources.readingsSent?.().sent ?? 0,
    );
    counterFrom(
      this.registry,
      'furnace_agent_readings_replayed_total',
      'Of the readings sent, those sent as backlog after an outage',
      () => sources.readingsSent?.().replayed ?? 0,
    );
    gauge('furnace_agent_outbox_unconfirmed', 'Readings the broker took that the backend has not confirmed yet', (set) =>
      set(sources.unconfirmed?.().count ?? 0),
    );
    gauge(
      'furnace_agent_outbox_unconfirmed_oldest_age_seconds',
      'Source age of the oldest reading waiting for the backend confirmation',
      (set) => set((sources.unconfirmed?.().oldestAgeMs ?? 0) / 1000),
    );
    resentCounter(this.registry, () => sources.resent?.());
    counterFrom(this.registry, 'furnace_agent_mqtt_reconnects_total', 'Reconnections to the broker', () => sources.reconnects?.() ?? 0);
    gauge(
      'furnace_agent_sensor_state',
      '1 for the state each sensor is in (ok, stalled, disconnected, faulty), 0 for the others',
      (set) => {
        for (const [sensor, current] of sources.sensorStates?.() ?? []) {
          for (const state of SENSOR_STATES) set(current === state ? 1 : 0, { sensor, state });
        }
      },
      ['sensor', 'state'],
    );
  }
}

type GaugeRead = (set: (value: number, labels?: Record<string, string>) => void) => void;

/** A gauge whose value (or values, by label) is read from `read` at scrape time. */
function gaugeFrom(registry: Registry, name: string, help: string, read: GaugeRead, labelNames: string[]): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      read((value, labels) => (labels ? this.set(labels, value) : this.set(value)));
    },
  });
}

/** Readings sent again for want of the backend's confirmation, by reason; totals read at scrape time. */
function resentCounter(registry: Registry, read: () => { timeout: number; hole: number } | undefined): void {
  const reported = { timeout: 0, hole: 0 };
  new Counter({
    name: 'furnace_agent_readings_resent_total',
    help: 'Readings sent again because the backend had not confirmed them, by reason: hole (the broker took them before readings the backend stored), timeout',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const now = read() ?? reported;
      for (const reason of ['timeout', 'hole'] as const) {
        if (now[reason] > reported[reason]) this.inc({ reason }, now[reason] - reported[reason]);
        reported[reason] = Math.max(reported[reason], now[reason]);
      }
    },
  });
}

/** A counter whose total is read from `read` at scrape time (it must only grow). */
function counterFrom(registry: Registry, name: string, help: string, read: () => number): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > reported) this.inc(now - reported);
      reported = Math.max(reported, now);
    },
  });
}
