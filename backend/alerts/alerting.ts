import type { MqttClient, Packet } from 'mqtt';
import type { Logger } from 'pino';
import type Database from 'better-sqlite3';
import type { DeviceStatus, ReadingBatch, SensorsHealth } from '../../contract/index.js';
import { SettingsError } from '../../contract/index.js';
import type { BackendConfig } from '../config.js';
import type { IngestObserver, ReceivedReadings } from '../ingest/ingest.js';
import type { BackendMetrics } from '../metrics.js';
import { openAlertDb } from './store/alert-db.js';
import { AlertStore } from './store/alert-store.js';
import { AlertDelivery } from './delivery/index.js';
import { AlertEngine } from './engine/engine.js';
import { SeenReadings, type SeenUpdate } from './engine/seen-readings.js';
import { type RuleSet, parseRulesDocument, prepareRulesFile, rulesOf } from './rules/rule-source.js';
import { checkSilence } from './engine/silences.js';
import type { ActiveAlert, AlertEventRecord, AlertsService, HistoryQuery, NewSilence, RulesUpdate, Silence } from './types.js';

/** SQLite result codes of failures that retrying can get past. */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM)/;

function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TRANSIENT.test(code);
}

export interface AlertingOptions {
  config: BackendConfig;
  /** The --config file, for messages. */
  configFile?: string | undefined;
  /** Re-reads the settings (SIGHUP); throws SettingsError naming every bad key. */
  reloadConfig?: (() => BackendConfig) | undefined;
  /** The backend's MQTT connection (ingest's): alerts go out on the same session. */
  mqttClient?: MqttClient;
  metrics: BackendMetrics;
  log: Logger;
}

/**
 * The alert side of the backend, assembled: rules and where they come from, the engine and its
 * store, one dispatcher per delivery channel. It is what ingest feeds (IngestObserver) and what
 * the HTTP API asks (AlertsService).
 */
export class Alerting implements AlertsService, IngestObserver {
  readonly engine: AlertEngine;
  private readonly store: AlertStore;
  private readonly delivery: AlertDelivery;
  private readonly db: Database.Database;
  private readonly seen: SeenReadings;
  private ruleSet: RuleSet & { loadedAt: number };
  private unfollowBroker: () => void = () => undefined;
  private alertsSettings: BackendConfig['alerts'];

  constructor(private readonly options: AlertingOptions) {
    const { config, log, metrics } = options;
    const loaded = rulesOf(config.alerts, options.configFile);
    // At start-up a bad rule set stops the backend, like any bad setting: better than running without alerts.
    if (!loaded.ok) throw new SettingsError(loaded.problems);
    this.ruleSet = { ...loaded.set, loadedAt: Date.now() };
    this.alertsSettings = config.alerts;
    const db = openAlertDb(config.dataDir);
    this.db = db;
    this.store = new AlertStore(db, log);
    this.seen = new SeenReadings(db);
    this.delivery = AlertDelivery.create({ db, alerts: config.alerts, mqttClient: options.mqttClient, metrics, log });
    const channels = this.delivery.channels;
    this.retireOrphanedOutboxes(new Set(channels.map((channel) => channel.name)));
    this.engine = new AlertEngine({
      store: this.store,
      rules: this.ruleSet.rules,
      channels,
      checkIntervalMs: config.alerts.checkIntervalMs,
      metrics,
      log,
    });
    if (options.mqttClient) this.followBroker(options.mqttClient);
    this.engine.events.on('enqueued', (names) => this.delivery.wake(names));
    this.engine.events.on('appended', (records) => {
      for (const { event, silenced } of records) {
        if (event.to === 'firing' || event.to === 'resolved') {
          log.info(
            { eventId: event.id, severity: event.severity, silenced },
            `alert ${event.rule} ${event.to} on ${event.device}${event.sensor ? `/${event.sensor}` : ''}: ${event.message}`,
          );
        }
      }
    });
    log.info(
      { rules: this.ruleSet.rules.length, source: this.ruleSet.source, channels: channels.map((c) => c.name) },
      'alert rules loaded',
    );
  }

  /**
   * Items waiting for a channel that is no longer configured (a webhook removed from the settings)
   * would wait for ever: they are recorded as failed, with the reason, and the operator is told.
   */
  private retireOrphanedOutboxes(configured: ReadonlySet<string>): void {
    const rows = this.db
      .prepare(`SELECT channel, count(*) AS n FROM alert_outbox WHERE state = 'pending' GROUP BY channel`)
      .all() as Array<{
      channel: string;
      n: number;
    }>;
    const retire = this.db.prepare(`UPDATE alert_outbox SET state = 'failed', last_error = ? WHERE channel = ? AND state = 'pending'`);
    for (const { channel, n } of rows) {
      if (configured.has(channel)) continue;
      retire.run('the channel is no longer configured', channel);
      this.options.log.warn({ channel, items: n }, `${n} alert items for ${channel}, which is no longer configured, recorded as failed`);
    }
  }

  /**
   * Tells the engine when the backend's own connection to the broker drops and when it is back
   * (at the CONNACK, before MQTT.js resends what it holds and before any message of the session
   * is handled), and that it is not made yet at start-up: the time cut off is no agent's silence.
   */
  private followBroker(client: MqttClient): void {
    const connack = (packet: Packet) => {
      if (packet.cmd === 'connack' && (packet.returnCode ?? packet.reasonCode ?? 0) === 0) this.engine.brokerConnected();
    };
    const closed = () => this.engine.brokerDisconnected();
    if (!client.connected) closed();
    client.on('packetreceive', connack);
    client.on('close', closed);
    this.unfollowBroker = () => {
      client.off('packetreceive', connack);
      client.off('close', closed);
    };
  }

  start(): void {
    this.engine.start();
    this.delivery.start();
  }

  async close(): Promise<void> {
    this.unfollowBroker();
    this.engine.stop();
    await this.delivery.stop();
    this.store.close();
  }

  // Rules

  /** SIGHUP: re-reads the settings and applies their rules, or keeps the old ones and says why. */
  reload(trigger: string): boolean {
    const { log, metrics } = this.options;
    let alerts = this.alertsSettings;
    let problems: string[] | undefined;
    try {
      if (this.options.reloadConfig) alerts = this.options.reloadConfig().alerts;
    } catch (error) {
      problems = error instanceof SettingsError ? error.problems : [(error as Error).message];
    }
    const loaded = problems === undefined ? rulesOf(alerts, this.options.configFile) : { ok: false as const, problems };
    if (!loaded.ok) {
      metrics.alertRuleReloads.inc({ outcome: 'refused' });
      log.error({ problems: loaded.problems }, `rules refused (${trigger}), the old ones stay: ${loaded.problems.join('; ')}`);
      return false;
    }
    try {
      this.apply(loaded.set, trigger);
    } catch (error) {
      metrics.alertRuleReloads.inc({ outcome: 'refused' });
      log.error({ err: error }, `rules could not be applied (${trigger}), the old ones stay: ${(error as Error).message}`);
      return false;
    }
    this.alertsSettings = alerts;
    return true;
  }

  rules(): { rules: RuleSet['rules']; source: string; loadedAt: number } {
    return this.ruleSet;
  }

  replaceRules(raw: unknown, by: string): Promise<RulesUpdate> {
    const path = this.alertsSettings.rulesFile;
    if (path === undefined) {
      const where = this.options.configFile ?? 'the settings';
      return Promise.resolve({
        ok: false,
        code: 'API_RULES_READ_ONLY',
        message: `the rules are alerts.rules in ${where}: edit them there and send SIGHUP, or set alerts.rulesFile to manage them over the API`,
      });
    }
    const parsed = parseRulesDocument(raw);
    if (!parsed.ok) {
      this.options.metrics.alertRuleReloads.inc({ outcome: 'refused' });
      return Promise.resolve({ ok: false, code: 'API_RULES_INVALID', problems: parsed.problems });
    }
    // The new file is written beside the old one first and takes its place only once the rules are
    // applied: if either step fails, the running rules and the file still agree.
    const file = prepareRulesFile(path, parsed.rules, by);
    try {
      this.apply({ rules: parsed.rules, source: path }, `PUT /api/v1/rules by ${by}`);
    } catch (error) {
      file.discard();
      throw error;
    }
    file.commit();
    return Promise.resolve({ ok: true, rules: parsed.rules });
  }

  private apply(set: RuleSet, trigger: string): void {
    this.engine.setRules(set.rules);
    this.ruleSet = { ...set, loadedAt: Date.now() };
    this.options.metrics.alertRuleReloads.inc({ outcome: 'applied' });
    this.options.log.info({ rules: set.rules.map((rule) => rule.id), source: set.source }, `rules applied from ${set.source} (${trigger})`);
  }

  // IngestObserver

  readings(batch: ReadingBatch, receivedAt: number): void {
    this.judge('readings', batch.device, () => this.judgeTogether([{ batch, receivedAt }]));
  }

  /**
   * The messages of one turn in one transaction. Should any fail in a way retrying cannot cure,
   * nothing of the group is kept and each is judged alone, so only that one is skipped, as when
   * they came one per turn.
   */
  readingsMany(messages: readonly ReceivedReadings[]): void {
    if (messages.length === 1 && messages[0]) return this.readings(messages[0].batch, messages[0].receivedAt);
    try {
      this.judgeTogether(messages);
    } catch (error) {
      if (isTransient(error)) throw error;
      for (const { batch, receivedAt } of messages) this.readings(batch, receivedAt);
    }
  }

  private judgeTogether(messages: readonly ReceivedReadings[]): void {
    // What the earlier messages add to the seen runs, applied only once all is committed: a
    // second message of the same boot must see the first's, and a rollback must leave nothing.
    const staged = new Map<string, SeenUpdate>();
    const judged: Array<{ device: string; readings: ReadingBatch['readings']; receivedAt: number }> = [];
    for (const { batch, receivedAt } of messages) {
      const { device, boot } = batch;
      const fresh = this.seen.fresh(device, boot, batch.readings, staged);
      if (fresh.length === 0) continue;
      const update = this.seen.update(device, boot, fresh, staged);
      staged.set(update.key, update);
      judged.push({ device, readings: fresh, receivedAt });
    }
    const last = judged[judged.length - 1];
    if (last === undefined) return;
    // One transaction: the readings count as judged exactly when their transitions are committed.
    this.db.transaction(() => {
      for (const update of staged.values()) this.seen.persist(update, last.receivedAt);
      this.engine.readingsMany(judged);
    })();
    this.options.metrics.alertJudgingMessages.observe(messages.length);
    for (const update of staged.values()) this.seen.apply(update);
  }

  status(status: DeviceStatus, receivedAt: number): void {
    this.judge('status', status.device, () =>
      this.engine.status(status.device, status.state, receivedAt, { ts: status.ts, boot: status.boot }),
    );
  }

  statusCleared(device: string, receivedAt: number): void {
    this.judge('status', device, () => this.engine.statusCleared(device, receivedAt));
  }

  sensors(health: SensorsHealth, receivedAt: number): void {
    this.judge('sensors', health.device, () => this.engine.sensors(health.device, health, receivedAt));
  }

  /**
   * Runs one evaluation. A failure that can pass (the file busy, locked, full, an I/O error) is
   * thrown, so ingest retries and does not acknowledge meanwhile; any other failure would fail
   * the same way on every retry and hold up every device's acknowledgements behind it, so it is
   * logged, counted and the input skipped.
   */
  private judge(input: string, device: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      if (isTransient(error)) throw error;
      this.options.metrics.alertEvaluationFailures.inc({ input });
      this.options.log.error({ err: error, device, input }, `alert evaluation failed; this ${input} input is skipped`);
    }
  }

  // AlertsService

  history(query: HistoryQuery): AlertEventRecord[] {
    return this.store.history(query);
  }

  active(): ActiveAlert[] {
    return this.engine.active();
  }

  acknowledge(id: string, by: string, comment?: string): ActiveAlert | undefined {
    return this.engine.acknowledge(id, by, comment);
  }

  silences(includeExpired: boolean): Silence[] {
    return this.store.listSilences(Date.now(), includeExpired);
  }

  addSilence(silence: NewSilence, by: string): Silence {
    return checkSilence(silence, by, Date.now(), (s) => this.store.addSilence(s));
  }

  removeSilence(id: string): boolean {
    return this.store.removeSilence(id, Date.now());
  }

  eventsAfter(after: number, limit: number): AlertEventRecord[] {
    return this.store.eventsAfter(after, limit);
  }

  lastSeq(): number {
    return this.store.lastSeq();
  }

  onEvents(listener: (records: readonly AlertEventRecord[]) => void): () => void {
    this.engine.events.on('appended', listener);
    return () => this.engine.events.off('appended', listener);
  }
}
