import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { pino } from 'pino';
import type { Reading } from '../../contract/index.js';
import { openAlertDb } from '../../backend/alerts/store/alert-db.js';
import type { AlertInstance } from '../../backend/alerts/alert-state.js';
import { AlertStore } from '../../backend/alerts/store/alert-store.js';
import { AlertEngine } from '../../backend/alerts/engine/engine.js';
import { parseRules, type Rule } from '../../backend/alerts/rules/rule-schema.js';
import type { AlertEventRecord, ChannelItem, ChannelSpec } from '../../backend/alerts/types.js';
import { BackendMetrics } from '../../backend/metrics.js';

// Shared by the alert engine and store tests: a real alerts.sqlite in a temporary folder, an
// engine on it with a clock and ids the test controls, and the two channel filters the
// delivery side uses (MQTT takes retained-state changes and notifications, a webhook only
// notifications of firing and resolved).

export const DEVICE = 'furnace-1';

/** Rules as operators write them; `match` defaults to furnace-1 / tc1, severity to critical. */
export function rules(...raw: Array<Record<string, unknown>>): readonly Rule[] {
  const parsed = parseRules(raw.map((r) => ({ match: { device: DEVICE, sensor: 'tc1' }, severity: 'critical', ...r })));
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return parsed.rules;
}

export function reading(ts: number, value: number | null, extra: Partial<Reading> = {}): Reading {
  return {
    seq: ts + 1,
    ts,
    sensor: 'tc1',
    value,
    unit: 'C',
    quality: value === null ? 'bad' : 'good',
    clock: 'synced',
    replay: false,
    ...extra,
  };
}

export const mqttChannel: ChannelSpec = {
  name: 'mqtt',
  wants: (item: ChannelItem) => item.kind === 'forget' || item.state !== undefined || !item.silenced,
};
export const webhookChannel: ChannelSpec = {
  name: 'webhook:ops',
  wants: (item: ChannelItem) =>
    item.kind === 'transition' && !item.silenced && (item.event.to === 'firing' || item.event.to === 'resolved'),
};

export interface OutboxRow {
  channel: string;
  item: ChannelItem;
  state: string;
  enqueued_at: number;
}

export interface InstanceRow {
  key: string;
  state: string;
  episode_id: string | null;
  acked_by: string | null;
}

export class EngineHarness {
  readonly dir = mkdtempSync(join(tmpdir(), 'alert-engine-'));
  readonly metrics = new BackendMetrics();
  readonly appended: AlertEventRecord[][] = [];
  readonly enqueued: string[][] = [];
  db!: Database.Database;
  store!: AlertStore;
  engine!: AlertEngine;
  /** The engine's clock, for calls that do not pass a time. */
  clock = 0;
  private ids = 0;

  constructor(
    private ruleSet: readonly Rule[],
    private readonly channels: readonly ChannelSpec[] = [mqttChannel, webhookChannel],
  ) {
    this.open();
  }

  /**
   * A new store and engine on the same folder at `clock`: what a backend restart does. The old
   * engine is stopped first (it flushes), unless `crash` (the process died: what is only in memory is lost).
   */
  restart(ruleSet: readonly Rule[] = this.ruleSet, { crash = false }: { crash?: boolean } = {}): void {
    if (!crash) this.engine.stop();
    this.store.close();
    this.ruleSet = ruleSet;
    this.open();
  }

  private open(): void {
    this.db = openAlertDb(this.dir);
    this.store = new AlertStore(this.db, pino({ level: 'silent' }));
    this.engine = new AlertEngine({
      store: this.store,
      rules: this.ruleSet,
      channels: this.channels,
      checkIntervalMs: 1000,
      metrics: this.metrics,
      log: pino({ level: 'silent' }),
      now: () => this.clock,
      // Unique across restarts, as random ids would be.
      newId: () => `ev-${++this.ids}`,
    });
    this.engine.events.on('appended', (records) => this.appended.push([...records]));
    this.engine.events.on('enqueued', (names) => this.enqueued.push([...names]));
  }

  /** One batch from furnace-1, received at the reading's own time unless told. */
  feed(readings: Reading | Reading[], receivedAt?: number): void {
    const batch = Array.isArray(readings) ? readings : [readings];
    this.engine.readings(DEVICE, batch, receivedAt ?? batch[batch.length - 1]?.ts ?? this.clock);
  }

  events(): AlertEventRecord[] {
    return this.store.eventsAfter(0, 10_000);
  }

  /** `rule:from→to` of every logged event, the shape most assertions want. */
  path(): string[] {
    return this.events().map(({ event }) => `${event.rule}${event.sensor ? `/${event.sensor}` : ''}:${event.from}→${event.to}`);
  }

  outbox(channel?: string): OutboxRow[] {
    const rows = this.db.prepare('SELECT channel, item, state, enqueued_at FROM alert_outbox ORDER BY id').all() as Array<
      OutboxRow & { item: string }
    >;
    return rows
      .map((row) => ({ ...row, item: JSON.parse(row.item) as ChannelItem }))
      .filter((row) => channel === undefined || row.channel === channel);
  }

  instanceRows(): InstanceRow[] {
    return this.db.prepare('SELECT key, state, episode_id, acked_by FROM alert_instances ORDER BY key').all() as InstanceRow[];
  }

  /** The stored state of one instance, as a restart would load it. */
  storedInstance(key: string): AlertInstance | undefined {
    const row = this.instanceRows().find((candidate) => candidate.key === key);
    return row === undefined ? undefined : (JSON.parse(row.state) as AlertInstance);
  }

  async metric(name: 'alertTransitions' | 'alertsActive', labels: Record<string, string>): Promise<number> {
    const { values } = await this.metrics[name].get();
    const matches = (have: Record<string, string | number | undefined>) => Object.entries(labels).every(([k, l]) => have[k] === l);
    return values.find((v) => matches(v.labels))?.value ?? 0;
  }

  close(): void {
    this.engine.stop();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
