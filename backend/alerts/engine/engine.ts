import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Reading, SensorsHealth } from '../../../contract/index.js';
import type { BackendMetrics } from '../../metrics.js';
import { type AlertInput, type AlertPhase, instanceKey, newInstance } from '../alert-state.js';
import type { AlertStore } from '../store/alert-store.js';
import { BrokerCut } from './broker-cut.js';
import { AlertEngineEmitter } from './engine-events.js';
import {
  CHECKPOINT_MS,
  type Change,
  type Entry,
  InstanceTable,
  type LastWords,
  emptyChange,
  endEntry,
  outboxRows,
  pairOf,
  resumed,
  toActiveAlert,
} from './engine-state.js';
import { evaluate, ruleApplies } from './evaluator.js';
import { markSaved, prepareChange } from './engine-prepare.js';
import { RuleSet } from './rule-set.js';
import type { Rule } from '../rules/rule-schema.js';
import { catchUpSilenced } from './silence-catch-up.js';
import { anySilenceMatches } from './silences.js';
import type { ActiveAlert, AlertEventRecord, ChannelItem, ChannelSpec, Silence } from '../types.js';

// The stateful core around the pure evaluator: it keeps every instance in memory, feeds it the
// inputs ingest hands over, and commits each call's transitions, states and outbox rows in one
// transaction before memory moves on. So a failed commit leaves nothing half done: ingest does
// not acknowledge, the broker resends, and the same inputs meet the same state again.

export interface AlertEngineOptions {
  store: AlertStore;
  rules: readonly Rule[];
  channels: readonly ChannelSpec[];
  checkIntervalMs: number;
  metrics: BackendMetrics;
  log: Logger;
  now?: () => number;
  newId?: () => string;
}

export type { AlertEngineEvents } from './engine-events.js';

const ACTIVE: readonly AlertPhase[] = ['pending', 'firing'];
const isEnd = (phase: AlertPhase) => phase === 'inactive' || phase === 'resolved';

export class AlertEngine {
  readonly events: AlertEngineEmitter;
  private readonly store: AlertStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly newId: () => string;
  private ruleSet = new RuleSet([]);
  private ruleById = new Map<string, Rule>();
  private readonly instances = new InstanceTable();
  private timer: NodeJS.Timeout | undefined;
  private readonly cut = new BrokerCut();

  constructor(private readonly options: AlertEngineOptions) {
    this.store = options.store;
    this.log = options.log.child({ component: 'alerts:engine' });
    this.events = new AlertEngineEmitter(this.log);
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? randomUUID;
    const now = this.now();
    for (const stored of options.store.loadInstances()) {
      const { rule, device, sensor } = stored.instance;
      this.instances.put(instanceKey(rule, device, sensor), resumed(stored, now));
    }
    // Rules may have changed while the backend was down: the same reconciliation as a reload.
    this.setRules(options.rules);
    // A silence ended early (DELETE /silences/{id}) is caught up on at once, not at the next tick.
    options.store.onSilenceEnded((at) => this.run('silence-ended', at, (change) => this.catchUp(change, at)));
  }

  get rules(): readonly Rule[] {
    return this.ruleSet.rules;
  }

  readings(device: string, readings: readonly Reading[], receivedAt: number): void {
    this.readingsMany([{ device, readings, receivedAt }]);
  }

  /** Several messages, in arrival order, as one call: each sees the state the ones before it left; one commit. */
  readingsMany(messages: ReadonlyArray<{ device: string; readings: readonly Reading[]; receivedAt: number }>): void {
    this.run('readings', messages[messages.length - 1]?.receivedAt ?? this.now(), (change) => {
      for (const { device, readings, receivedAt } of messages) {
        this.touchDevice(change, device, receivedAt);
        for (const reading of readings) {
          const input: AlertInput = { type: 'reading', device, reading };
          for (const rule of this.rulesFor(device, reading.sensor))
            this.feed(change, rule, this.ensure(change, rule, device, reading.sensor, receivedAt), input, receivedAt);
        }
      }
    });
  }

  /** `said`: the status's own time and boot, by which a stale one arriving late is told apart. */
  status(device: string, state: 'online' | 'offline', receivedAt: number, said?: { ts: number; boot?: string | undefined }): void {
    this.run('status', receivedAt, (change) => this.touchDevice(change, device, receivedAt, { type: 'status', device, state, ...said }));
  }

  /** The retained status was cleared (an empty message): no status is as good as offline. */
  statusCleared(device: string, receivedAt: number): void {
    this.status(device, 'offline', receivedAt);
  }

  sensors(device: string, health: SensorsHealth, receivedAt: number): void {
    this.run('sensors', receivedAt, (change) => {
      this.touchDevice(change, device, receivedAt);
      for (const { sensor, state, reason } of health.sensors) {
        const input: AlertInput = { type: 'sensor-state', device, sensor, state, ...(reason === undefined ? {} : { reason }) };
        for (const rule of this.rulesFor(device, sensor))
          this.feed(change, rule, this.ensure(change, rule, device, sensor, receivedAt), input, receivedAt);
      }
    });
  }

  /** Time passing: stale, offline and sensor alerts wait on the backend's clock, not on inputs. */
  tick(now: number = this.now()): void {
    this.run('tick', now, (change) => {
      for (const [key, entry] of this.instances) {
        const rule = this.ruleById.get(entry.instance.rule);
        if (rule !== undefined && this.cut.judges(rule.kind)) this.feed(change, rule, key, { type: 'tick' }, now);
      }
      this.catchUp(change, now);
      // Changes too small to write on their own still reach the disk now and then.
      for (const [key, entry] of this.instances) {
        if (entry.dirty && !change.entries.has(key) && now - entry.savedAt >= CHECKPOINT_MS) change.entries.set(key, entry);
      }
    });
  }

  /** The backend's connection to the broker is gone, or not made yet: stale and offline alerts wait (broker-cut.ts). */
  brokerDisconnected(at: number = this.now()): void {
    if (this.cut.begin(at)) this.log.info('cut off from the broker: stale and offline alerts wait');
  }

  /** Back on the broker: the time cut off counts as no agent's silence or time offline (broker-cut.ts). */
  brokerConnected(at: number = this.now()): void {
    const cutOffMs = this.cut.end(at, this.instances, (id) => this.ruleById.get(id));
    if (cutOffMs !== undefined)
      this.log.info({ cutOffMs }, 'back on the broker: stale and offline alerts go on, the time cut off left out');
  }

  start(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (error) {
        // A failed commit is logged at error where it fails; this says the timer carries on.
        this.log.warn({ err: error }, 'alert tick failed; the next tick tries again');
      }
    }, this.options.checkIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and flushes (call it before closing the store). Never throws: a failed flush is logged. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    try {
      this.flush();
    } catch (error) {
      this.log.error({ err: error }, 'alert states not flushed on stop; the last arrival times of up to 30 s are lost');
    }
  }

  /** Writes every entry changed since its last write (values, clocks, arrival times), so a restart resumes from there. Throws when the store fails. */
  flush(): void {
    const change = emptyChange();
    for (const [key, entry] of this.instances) {
      if (!entry.dirty) continue;
      change.entries.set(key, entry);
      change.write.add(key);
    }
    if (change.write.size > 0) this.commit(change, this.now());
  }

  /**
   * Swaps the rule set. Instances of rules that are gone, changed kind or no longer match their
   * device and sensor are dropped: a pending or firing one ends first (a transition like any
   * other, so every channel hears it), then the retained state is forgotten. The others keep their state.
   */
  setRules(rules: readonly Rule[]): void {
    const byId = new Map(rules.map((rule) => [rule.id, rule]));
    const now = this.now();
    const change = emptyChange();
    const touched = new Map<string, { device: string; rule: string }>();
    for (const [key, entry] of this.instances) {
      const { instance } = entry;
      const rule = byId.get(instance.rule);
      const old = this.ruleById.get(instance.rule);
      // At start-up the old kind is unknown, but a device-wide instance still only suits an offline rule.
      const shape = rule !== undefined && (rule.kind === 'offline') === (instance.sensor === undefined);
      const keep = shape && (old === undefined || old.kind === rule.kind) && ruleApplies(rule, instance.device, instance.sensor);
      if (keep) continue;
      change.remove.push(key);
      touched.set(pairOf(instance.rule, instance.device), { device: instance.device, rule: instance.rule });
      this.end(change, key, entry, old ?? rule, rule === undefined ? 'removed' : 'changed', now);
    }
    // The end transitions go to the outbox ahead of the forgets: a channel hears the end, then the state goes.
    this.prepare(change, now);
    const removed = new Set(change.remove);
    for (const [pair, { device, rule }] of touched) {
      const remaining = [...this.instances.keysOf(pair)].some((key) => this.instances.get(key) !== undefined && !removed.has(key));
      if (!remaining && this.store.everNotified(device, rule)) this.enqueue(change, { kind: 'forget', device, rule });
    }
    this.commit(change, now);
    this.ruleSet = new RuleSet(rules);
    this.ruleById = byId;
    if (change.remove.length > 0) this.log.info({ removed: change.remove }, 'alert instances of changed rules dropped');
  }

  /** Ends a dropped instance that is pending or firing, with the severity of the rule it fired under (`old`, else the new one). */
  private end(change: Change, key: string, entry: Entry, old: Rule | undefined, why: 'removed' | 'changed', now: number): void {
    const { instance } = entry;
    if (!ACTIVE.includes(instance.phase)) return;
    // At start-up the old rule is gone from memory; the instance's latest transition carries its severity.
    const logged = this.ruleById.has(instance.rule)
      ? undefined
      : this.store.lastEvent(instance.rule, instance.device, instance.sensor)?.event.severity;
    endEntry(change, key, entry, { id: instance.rule, severity: logged ?? old?.severity ?? 'critical' }, why, now, this.newId());
  }

  /** Pending and firing alerts, with their ack and whether a silence covers them now. */
  active(): ActiveAlert[] {
    const now = this.now();
    const silences = this.store.activeSilences(now);
    const alerts: ActiveAlert[] = [];
    for (const [key] of this.instances) {
      const alert = this.describe(key, silences, now);
      if (alert !== undefined) alerts.push(alert);
    }
    return alerts;
  }

  /** Acknowledges the episode `id` (ActiveAlert.id); an episode already acknowledged keeps its first ack. */
  acknowledge(id: string, by: string, comment?: string): ActiveAlert | undefined {
    for (const [key, entry] of this.instances) {
      if (entry.episodeId !== id || !ACTIVE.includes(entry.instance.phase)) continue;
      const now = this.now();
      if (entry.ack === undefined) {
        const ack = { by, at: now, ...(comment ? { comment } : {}) };
        this.store.acknowledge(id, ack);
        this.instances.update(key, { ...entry, ack });
        this.log.info({ alert: id, by }, 'alert acknowledged');
      }
      return this.describe(key, this.store.activeSilences(now), now);
    }
    return undefined;
  }

  // Evaluation

  private run(input: string, now: number, fill: (change: Change) => void): void {
    const started = performance.now();
    try {
      const change = emptyChange();
      fill(change);
      this.finish(change, now);
    } finally {
      this.options.metrics.alertEvaluationSeconds.observe({ input }, (performance.now() - started) / 1000);
    }
  }

  /** Any input from a device creates its device-wide (offline) instances; a status is also evaluated. */
  private touchDevice(change: Change, device: string, now: number, status?: AlertInput): void {
    for (const rule of this.rulesFor(device, undefined)) {
      const key = this.ensure(change, rule, device, undefined, now);
      if (status !== undefined) this.feed(change, rule, key, status, now);
    }
  }

  private rulesFor(device: string, sensor: string | undefined): readonly Rule[] {
    return this.ruleSet.for(device, sensor);
  }

  /** The key of the instance, created on the first input that concerns it. */
  private ensure(change: Change, rule: Rule, device: string, sensor: string | undefined, now: number): string {
    const key = instanceKey(rule.id, device, sensor);
    if (!change.entries.has(key) && this.instances.get(key) === undefined) {
      change.entries.set(key, { instance: newInstance(rule.id, device, sensor, now), savedAt: -Infinity, dirty: true });
      this.instances.index(key, rule.id, device);
    }
    return key;
  }

  private feed(change: Change, rule: Rule, key: string, input: AlertInput, now: number): void {
    const entry = change.entries.get(key) ?? this.instances.get(key);
    if (entry === undefined) return;
    const { instance, transitions } = evaluate(rule, entry.instance, input, now, this.newId);
    if (instance === entry.instance && transitions.length === 0) return;
    // A tick only moves the clock: not worth a write at once unless it also changes the substance. The
    // clock of a rule judged on source time (threshold, rate) is how long its condition has held, so
    // it is saved at the next checkpoint or stop like any other change.
    const clockMatters = instance.memory.heard !== undefined && instance.clock !== entry.instance.clock;
    let next: Entry = { ...entry, instance, dirty: entry.dirty || input.type !== 'tick' || clockMatters };
    for (const event of transitions) {
      next = { ...next, last: { message: event.message, value: event.value } };
      // Reminders of an acknowledged alert are dropped; the evaluator already moved notifiedAt.
      if (event.from === 'firing' && event.to === 'firing' && next.ack !== undefined) continue;
      if (isEnd(event.to)) next = { ...next, episodeId: undefined, ack: undefined };
      else if (isEnd(event.from)) next = { ...next, episodeId: event.id, ack: undefined };
      change.steps.push({ key, rule, event });
    }
    change.entries.set(key, next);
  }

  /** Notifies, once, each firing alert whose notice a silence held back and that no silence covers now. */
  private catchUp(change: Change, now: number): void {
    const source = { entries: this.instances, ruleOf: (id: string) => this.ruleById.get(id), newId: this.newId };
    catchUpSilenced(change, now, {
      ...source,
      silences: () => this.store.activeSilences(now),
      lastWords: (key) => this.lastWords(key, change),
    });
  }

  /** Decides what to write, builds events and outbox rows, commits, and only then updates memory. */
  private finish(change: Change, now: number): void {
    this.prepare(change, now);
    this.commit(change, now);
  }

  /** Picks the entries to write (removed ones never are) and adds the steps' events and outbox rows. */
  private prepare(change: Change, now: number): void {
    prepareChange(change, now, {
      before: (key) => this.instances.get(key),
      keysOf: (pair) => this.instances.keysOf(pair),
      silences: (at) => this.store.activeSilences(at),
      lastWords: (key) => this.lastWords(key, change),
      enqueue: (item) => this.enqueue(change, item),
    });
  }

  private commit(change: Change, now: number): void {
    const upsert = markSaved(change, now);
    let records: AlertEventRecord[] = [];
    if (upsert.length > 0 || change.remove.length > 0 || change.events.length > 0 || change.outbox.length > 0) {
      try {
        records = this.store.commit({ upsert, remove: change.remove, events: change.events, outbox: change.outbox, now });
      } catch (error) {
        this.log.error({ err: error, transitions: change.events.length }, 'alert state not saved; the inputs will be evaluated again');
        throw error;
      }
    }
    for (const [key, entry] of change.entries) this.instances.put(key, entry);
    for (const key of change.remove) this.instances.drop(key);
    this.report(records, change);
  }

  private enqueue(change: Change, item: ChannelItem): void {
    change.outbox.push(...outboxRows(this.options.channels, item, this.log));
  }

  private report(records: readonly AlertEventRecord[], change: Change): void {
    const { metrics } = this.options;
    for (const { event } of records) metrics.alertTransitions.inc({ rule: event.rule, to: event.to });
    for (const phase of ACTIVE) metrics.alertsActive.set({ phase }, this.instances.countOf(phase));
    if (records.length > 0) this.events.emitGuarded('appended', records);
    const channels = [...new Set(change.outbox.map((row) => row.channel))];
    if (channels.length > 0) this.events.emitGuarded('enqueued', channels);
  }

  // Views

  private lastWords(key: string, change?: Change): LastWords {
    const entry = change?.entries.get(key) ?? this.instances.get(key);
    if (entry === undefined) return { message: '' };
    if (entry.last !== undefined) return entry.last;
    const { rule, device, sensor } = entry.instance;
    const event = this.store.lastEvent(rule, device, sensor)?.event;
    const last = { message: event?.message ?? '', value: event?.value };
    // Kept in memory only: it changes nothing a restart would need.
    if (change?.entries.has(key)) change.entries.set(key, { ...entry, last });
    else this.instances.update(key, { ...entry, last });
    return last;
  }

  private describe(key: string, silences: readonly Silence[], now: number): ActiveAlert | undefined {
    const entry = this.instances.get(key);
    const rule = entry === undefined ? undefined : this.ruleById.get(entry.instance.rule);
    if (entry === undefined || rule === undefined || !ACTIVE.includes(entry.instance.phase)) return undefined;
    return toActiveAlert(key, entry, rule, this.lastWords(key).message, anySilenceMatches(silences, entry.instance, now));
  }
}
