import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { COMMAND_NAMES, REJECT_CAUSES } from '../contract/index.js';

/** How a command ended: the agent's outcome, or why it got none. The `outcome` label of furnace_backend_commands_total. */
export const COMMAND_RESULTS = ['ok', 'refused', 'failed', 'timeout', 'offline', 'busy', 'unavailable'] as const;
export type CommandResult = (typeof COMMAND_RESULTS)[number];

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The backend's Prometheus metrics, on one registry of its own (so tests can run several backends). */
export class BackendMetrics {
  readonly registry = new Registry();
  private readonly registers = [this.registry];

  // Ingest
  readonly batchesReceived = new Counter({
    name: 'furnace_backend_batches_received_total',
    help: 'Readings batches received from the broker, valid or not',
    registers: this.registers,
  });
  readonly readingsStored = new Counter({
    name: 'furnace_backend_readings_stored_total',
    help: 'Readings committed to the store',
    registers: this.registers,
  });
  readonly readingsDuplicate = new Counter({
    name: 'furnace_backend_readings_duplicate_total',
    help: 'Readings dropped because the same (device, boot, seq) was stored already',
    registers: this.registers,
  });
  readonly payloadsRejected = new Counter({
    name: 'furnace_backend_payloads_rejected_total',
    help: 'MQTT payloads refused, by cause',
    labelNames: ['cause'],
    registers: this.registers,
  });
  readonly storeErrors = new Counter({
    name: 'furnace_backend_store_errors_total',
    help: 'Failed store writes (each is retried; the broker is not acknowledged until it succeeds)',
    registers: this.registers,
  });
  readonly readingsRefused = new Counter({
    name: 'furnace_backend_readings_refused_total',
    help: 'Readings the store refused for good (InfluxDB 400/422: a field type conflict, a time outside its retention policy): logged, confirmed to the agent, never stored',
    labelNames: ['code'],
    registers: this.registers,
  });
  readonly commits = new Histogram({
    name: 'furnace_backend_ingest_commit_batches',
    help: 'Readings batches (MQTT messages) per write transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: this.registers,
  });
  readonly commitSeconds = new Histogram({
    name: 'furnace_backend_ingest_commit_seconds',
    help: 'Time one write transaction took',
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  readonly ingestLatencySeconds = new Histogram({
    name: 'furnace_backend_ingest_latency_seconds',
    help: 'From a batch arriving to its commit (its PUBACK follows right after)',
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  readonly confirmationsPublished = new Counter({
    name: 'furnace_backend_confirmations_published_total',
    help: 'Confirmations published to agents on telemetry/v1/{device}/stored (what the store holds)',
    registers: this.registers,
  });
  readonly confirmationFailures = new Counter({
    name: 'furnace_backend_confirmation_failures_total',
    help: 'Confirmations that could not be made (store unreadable); the agents send those readings again',
    registers: this.registers,
  });
  readonly listenerErrors = new Counter({
    name: 'furnace_backend_ingest_listener_errors_total',
    help: 'Listeners of ingest events (stored, committed) that threw; acknowledgements go on regardless',
    labelNames: ['event'],
    registers: this.registers,
  });
  readonly uncommittedReadings = new Gauge({
    name: 'furnace_backend_ingest_uncommitted_readings',
    help: 'Readings received but not yet committed (bounded by ingest.maxPendingReadings)',
    registers: this.registers,
  });
  readonly gapsOpened = new Counter({
    name: 'furnace_backend_seq_gaps_opened_total',
    help: 'Missing seq ranges found (a late reading that splits a gap opens one too)',
    registers: this.registers,
  });
  readonly gapsClosed = new Counter({
    name: 'furnace_backend_seq_gaps_closed_total',
    help: 'Missing seq ranges filled by late readings',
    registers: this.registers,
  });
  readonly registryUpdates = new Counter({
    name: 'furnace_backend_registry_updates_total',
    help: 'Status and sensor-health messages recorded, by topic kind',
    labelNames: ['kind'],
    registers: this.registers,
  });
  readonly mqttConnected = new Gauge({
    name: 'furnace_backend_mqtt_connected',
    help: '1 while the backend is connected to the broker',
    registers: this.registers,
  });

  // Store and queries
  readonly storeWritable = new Gauge({
    name: 'furnace_backend_store_writable',
    help: '1 when the last readiness check found the store writable',
    registers: this.registers,
  });
  readonly querySeconds = new Histogram({
    name: 'furnace_backend_query_seconds',
    help: 'Range queries by kind and outcome (ok, timeout, aborted, busy, failed)',
    labelNames: ['kind', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  readonly retentionDeleted = new Counter({
    name: 'furnace_backend_retention_deleted_total',
    help: 'Rows deleted by retention, by table',
    labelNames: ['table'],
    registers: this.registers,
  });

  // HTTP
  readonly httpRequests = new Histogram({
    name: 'furnace_backend_http_request_seconds',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });

  // Alerts
  readonly alertTransitions = new Counter({
    name: 'furnace_backend_alert_transitions_total',
    help: 'Alert transitions, by rule and the state entered (reminders count as firing)',
    labelNames: ['rule', 'to'],
    registers: this.registers,
  });
  readonly alertsActive = new Gauge({
    name: 'furnace_backend_alerts_active',
    help: 'Alert instances now pending or firing, by phase',
    labelNames: ['phase'],
    registers: this.registers,
  });
  readonly alertEvaluationSeconds = new Histogram({
    name: 'furnace_backend_alert_evaluation_seconds',
    help: 'One evaluation of the rules against an input (a readings batch, a status, a tick), persisting included',
    labelNames: ['input'],
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  readonly alertJudgingMessages = new Histogram({
    name: 'furnace_backend_alert_judging_messages',
    help: 'Readings messages judged in one alert transaction (those of one event-loop turn)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200],
    registers: this.registers,
  });
  readonly alertEvaluationFailures = new Counter({
    name: 'furnace_backend_alert_evaluation_failures_total',
    help: 'Inputs the alert engine could not judge and skipped (a failure retrying would not cure), by input',
    labelNames: ['input'],
    registers: this.registers,
  });
  readonly alertDeliveries = new Counter({
    name: 'furnace_backend_alert_deliveries_total',
    help: 'Alert delivery attempts by channel and outcome (delivered, retry, failed)',
    labelNames: ['channel', 'outcome'],
    registers: this.registers,
  });
  readonly alertOutboxPending = new Gauge({
    name: 'furnace_backend_alert_outbox_pending',
    help: 'Alert items waiting in a channel outbox',
    labelNames: ['channel'],
    registers: this.registers,
  });
  readonly alertRuleReloads = new Counter({
    name: 'furnace_backend_alert_rule_reloads_total',
    help: 'Rule set reloads (SIGHUP or PUT /api/v1/rules), by outcome (applied, refused)',
    labelNames: ['outcome'],
    registers: this.registers,
  });
  readonly sseClients = new Gauge({
    name: 'furnace_backend_sse_clients',
    help: 'Server-sent event streams open, by stream (alerts, readings)',
    labelNames: ['stream'],
    registers: this.registers,
  });

  // Commands (backend/commands)
  readonly commands = new Counter({
    name: 'furnace_backend_commands_total',
    help: 'Commands to agents by name and outcome: ok, refused, failed (the agent replied so), timeout, offline, busy, unavailable (not sent)',
    labelNames: ['command', 'outcome'],
    registers: this.registers,
  });
  readonly commandSeconds = new Histogram({
    name: 'furnace_backend_command_round_trip_seconds',
    help: 'From publishing a command to receiving its reply, by command',
    labelNames: ['command'],
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  readonly commandsInFlight = new Gauge({
    name: 'furnace_backend_commands_in_flight',
    help: 'Commands waiting for a reply (bounded by commands.maxInFlight)',
    registers: this.registers,
  });
  readonly commandRepliesLate = new Counter({
    name: 'furnace_backend_command_replies_late_total',
    help: 'Replies that came after their request had timed out (dropped)',
    registers: this.registers,
  });
  readonly commandRepliesUnknown = new Counter({
    name: 'furnace_backend_command_replies_unknown_total',
    help: 'Replies to no request of this backend, or on the reply topic of another device or command than the request (dropped)',
    registers: this.registers,
  });
  readonly gapFillGivenUp = new Counter({
    name: 'furnace_backend_gap_fill_given_up_total',
    help: 'Seq gaps given up: asked for (resend) the most times allowed and still open, or the agent answered it holds none of them',
    registers: this.registers,
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'furnace_backend_' });
    // Every cause shows from the start at 0, so a dashboard can rate() it before the first rejection.
    for (const cause of [...REJECT_CAUSES, 'unknown_topic']) this.payloadsRejected.inc({ cause }, 0);
    for (const command of COMMAND_NAMES) for (const outcome of COMMAND_RESULTS) this.commands.inc({ command, outcome }, 0);
  }
}
