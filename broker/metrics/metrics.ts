import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** What the gauges read at scrape time, so they never go stale. */
export interface BrokerGaugeSources {
  openConnections: (listener: string) => number;
  listeners: () => string[];
  connectedClients: () => number;
}

/** Limits that are counted when hit (furnace_broker_limit_hits_total{limit}). */
export type LimitName =
  | 'max_connections'
  | 'max_packet_size'
  | 'publish_rate'
  | 'subscriber_stall'
  | 'subscriber_paced'
  | 'subscriber_queue'
  | 'drain_timeout'
  | 'connect_timeout'
  | 'keepalive_adjusted'
  | 'keepalive_timeout'
  | 'client_id_length';

/** A counter labelled by qos whose values are `counts` (indexed by QoS), read at each scrape. */
function perQosCounter(registers: Registry[], counts: number[], names: { name: string; help: string }): Counter<'qos'> {
  const reported = counts.map(() => 0);
  return new Counter({
    ...names,
    labelNames: ['qos'],
    registers,
    collect() {
      counts.forEach((count, qos) => {
        this.inc({ qos: String(qos) }, count - (reported[qos] ?? 0));
        reported[qos] = count;
      });
    },
  });
}

/** The broker's Prometheus metrics, on a registry of its own (several brokers may share a process in tests). */
export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly registers = [this.registry];

  readonly connects = new Counter({
    name: 'furnace_broker_connects_total',
    help: 'CONNECT packets answered, by outcome (accepted, bad_credentials, not_authorized, identifier_rejected, server_unavailable)',
    labelNames: ['result'],
    registers: this.registers,
  });
  /**
   * PUBLISH packets in and deliveries out, by QoS (0, 1, 2): counted per message in plain numbers
   * (a prom-client inc hashes its labels each time) and added to the counters at scrape time.
   */
  readonly received = [0, 0, 0];
  readonly delivered = [0, 0, 0];
  readonly messagesIn = perQosCounter(this.registers, this.received, {
    name: 'furnace_broker_messages_received_total',
    help: 'PUBLISH packets accepted from clients, by QoS',
  });
  readonly messagesOut = perQosCounter(this.registers, this.delivered, {
    name: 'furnace_broker_messages_delivered_total',
    help: 'Messages handed to subscribers, by the QoS they were published with',
  });
  readonly denied = new Counter({
    name: 'furnace_broker_denied_total',
    help: 'Requests refused by the ACL, by kind (publish, subscribe, will) and role',
    labelNames: ['kind', 'role'],
    registers: this.registers,
  });
  readonly dropped = new Counter({
    name: 'furnace_broker_messages_dropped_total',
    help: 'Messages not passed on, by reason (publish_denied: acknowledged but dropped; forward_denied: not delivered to a subscriber)',
    labelNames: ['reason'],
    registers: this.registers,
  });
  readonly limitHits = new Counter({
    name: 'furnace_broker_limit_hits_total',
    help: 'Times a limit was hit, by limit',
    labelNames: ['limit'],
    registers: this.registers,
  });
  readonly credentialReloads = new Counter({
    name: 'furnace_broker_credentials_reloads_total',
    help: 'Reloads of the credentials file, by result (ok, failed)',
    labelNames: ['result'],
    registers: this.registers,
  });

  constructor(sources: BrokerGaugeSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'furnace_broker_' });
    new Gauge({
      name: 'furnace_broker_connections',
      help: 'Open network connections, by listener (tcp, tls, ws)',
      labelNames: ['listener'],
      registers: this.registers,
      collect() {
        for (const listener of sources.listeners()) this.set({ listener }, sources.openConnections(listener));
      },
    });
    new Gauge({
      name: 'furnace_broker_clients_connected',
      help: 'MQTT clients with an accepted CONNECT',
      registers: this.registers,
      collect() {
        this.set(sources.connectedClients());
      },
    });
  }
}
