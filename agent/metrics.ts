import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** What the gauges read at scrape time, so nothing is counted twice or goes stale. */
export interface AgentGaugeSources {
  outboxDepth: () => number;
  outboxOldestAgeMs: () => number;
  mqttConnected: () => boolean;
}

/** The agent's Prometheus metrics, on a registry of its own. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly linesRead = new Counter({ name: 'furnace_agent_lines_read_total', help: 'Lines read from the sensor', registers: [this.registry] });
  readonly parseErrors = new Counter({
    name: 'furnace_agent_parse_errors_total',
    help: 'Sensor lines refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly readingsStored = new Counter({
    name: 'furnace_agent_readings_stored_total',
    help: 'Readings committed to the outbox',
    registers: [this.registry],
  });
  readonly readingsSent = new Counter({
    name: 'furnace_agent_readings_sent_total',
    help: 'Readings acknowledged by the broker',
    registers: [this.registry],
  });
  readonly readingsDropped = new Counter({
    name: 'furnace_agent_readings_dropped_total',
    help: 'Readings lost: outbox full or expired, or not writable',
    labelNames: ['cause'],
    registers: [this.registry],
  });
  readonly reconnects = new Counter({
    name: 'furnace_agent_mqtt_reconnects_total',
    help: 'Reconnections to the broker',
    registers: [this.registry],
  });

  constructor(sources: AgentGaugeSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'furnace_agent_' });
    new Gauge({
      name: 'furnace_agent_outbox_depth',
      help: 'Readings waiting in the outbox',
      registers: [this.registry],
      collect() {
        this.set(sources.outboxDepth());
      },
    });
    new Gauge({
      name: 'furnace_agent_outbox_oldest_age_seconds',
      help: 'Age of the oldest reading waiting in the outbox',
      registers: [this.registry],
      collect() {
        this.set(sources.outboxOldestAgeMs() / 1000);
      },
    });
    new Gauge({
      name: 'furnace_agent_mqtt_connected',
      help: '1 while connected to the broker',
      registers: [this.registry],
      collect() {
        this.set(sources.mqttConnected() ? 1 : 0);
      },
    });
  }
}
