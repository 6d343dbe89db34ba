import type { Logger } from 'pino';
import type { AlertState, AlertTransition } from '../../../contract/index.js';
import type { AlertInstance, AlertPhase } from '../alert-state.js';
import type { StoredInstance } from '../store/alert-store.js';
import { transitionOf } from './evaluator.js';
import type { Rule } from '../rules/rule-schema.js';
import type { ActiveAlert, ChannelItem, ChannelSpec } from '../types.js';

// What the alert engine keeps in memory about each instance, and how an instance is shown:
// as the retained state of its (device, rule) and as an active alert.

export interface Entry extends StoredInstance {
  /** What the latest transition said; looked up in the log after a restart. */
  last?: LastWords | undefined;
  /** Backend time of the last write of this instance. */
  savedAt: number;
  /** Changed since that write in ways not worth a write of their own (a value, a rate sample). */
  dirty: boolean;
}

/** The message and value of an instance's latest transition: the retained state shows them together. */
export interface LastWords {
  message: string;
  value?: number | null | undefined;
}

/** What a transition needs of its rule: the id, and the severity its retained state shows. */
export type RuleRef = Pick<Rule, 'id' | 'severity'>;

/** One call's work: new entries by key, the transitions in order, removals. Memory takes them only after the commit. */
export interface Change {
  entries: Map<string, Entry>;
  steps: Array<{ key: string; rule: RuleRef; event: AlertTransition }>;
  /** Keys of the entries to write (all the others only change memory). */
  write: Set<string>;
  remove: string[];
  events: Array<{ event: AlertTransition; silenced: boolean }>;
  outbox: Array<{ channel: string; item: ChannelItem }>;
}

export const emptyChange = (): Change => ({ entries: new Map(), steps: [], write: new Set(), remove: [], events: [], outbox: [] });

/** The outbox rows of one item: one per channel that wants it. */
export function outboxRows(channels: readonly ChannelSpec[], item: ChannelItem, log: Logger): Change['outbox'] {
  const rows: Change['outbox'] = [];
  for (const channel of channels) {
    let wanted = false;
    try {
      wanted = channel.wants(item);
    } catch (error) {
      // One broken channel must not stop the evaluation or the other channels.
      log.error({ err: error, channel: channel.name }, 'alert channel filter failed; item not queued for it');
    }
    if (wanted) rows.push({ channel: channel.name, item });
  }
  return rows;
}

/** Readings change values and rate samples all the time; these reach the disk at most this often. */
export const CHECKPOINT_MS = 30_000;

/** What a restart must not lose. The clock, values and samples may lag by up to CHECKPOINT_MS. */
export function differsInSubstance(a: AlertInstance, b: AlertInstance): boolean {
  return (
    a.phase !== b.phase ||
    a.holds !== b.holds ||
    a.holdingSince !== b.holdingSince ||
    a.clearSince !== b.clearSince ||
    a.notifiedAt !== b.notifiedAt ||
    a.memory.breached !== b.memory.breached ||
    a.memory.healthBad !== b.memory.healthBad ||
    a.memory.readingBad !== b.memory.readingBad ||
    (a.memory.lastArrival === undefined) !== (b.memory.lastArrival === undefined) ||
    a.memory.status?.state !== b.memory.status?.state ||
    a.memory.status?.ts !== b.memory.status?.ts ||
    a.memory.status?.boot !== b.memory.status?.boot
  );
}

/**
 * A stored instance as memory takes it at start-up. The backend's own downtime is no sensor's
 * silence: a quiet instance counts its last arrival from now at the earliest, or the first tick
 * after a restart would find every sensor stale. A pending or firing one keeps the silence it
 * saw (it was not quiet), so a restart neither resolves it nor sends it back to inactive.
 */
export function resumed(stored: StoredInstance, now: number): Entry {
  // Threshold and rate rules tell the source time between readings from when the newest one arrived;
  // the backend's downtime is not time the condition was seen to hold, so their clock resumes where it stopped.
  let instance = resumeSourceClock(stored.instance, now);
  let dirty = instance !== stored.instance;
  const arrival = instance.memory.lastArrival;
  if (arrival !== undefined && arrival < now && instance.phase !== 'pending' && instance.phase !== 'firing') {
    instance = { ...instance, memory: { ...instance.memory, lastArrival: now } };
    dirty = true;
  }
  return { ...stored, instance, savedAt: now, dirty };
}

function resumeSourceClock(instance: AlertInstance, now: number): AlertInstance {
  const heard = instance.memory.heard;
  if (heard === undefined || heard.at >= now) return instance;
  // The clock ticks reached before the stop is where the source time stood (at least the newest reading's).
  const ts = Math.max(heard.ts, instance.clock ?? heard.ts);
  return { ...instance, memory: { ...instance.memory, heard: { ts, at: now } } };
}

/**
 * Ends a pending or firing instance whose rule was removed or changed, with a transition, so
 * webhooks and SSE hear the end rather than only MQTT a forgotten retained state.
 */
export function endEntry(
  change: Change,
  key: string,
  entry: Entry,
  rule: RuleRef,
  why: 'removed' | 'changed',
  ts: number,
  id: string,
): void {
  const { instance } = entry;
  if (instance.phase !== 'pending' && instance.phase !== 'firing') return;
  const event = transitionOf(rule, instance, instance.phase === 'firing' ? 'resolved' : 'inactive', ts, `rule ${rule.id} ${why}`, id);
  change.steps.push({ key, rule, event });
  const ended = { ...instance, phase: event.to, since: ts };
  change.entries.set(key, {
    ...entry,
    instance: ended,
    last: { message: event.message, value: event.value },
    episodeId: undefined,
    ack: undefined,
  });
}

/** `rule/device`: the unit of the retained state (alerts/v1/{device}/{rule} has no sensor). */
export const pairOf = (rule: string, device: string) => `${rule}/${device}`;

/** The instances by key, indexed by (rule, device), with a count per phase for the gauge. */
export class InstanceTable {
  private readonly entries = new Map<string, Entry>();
  private readonly pairs = new Map<string, Set<string>>();
  private readonly phases = new Map<AlertPhase, number>();

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  [Symbol.iterator](): IterableIterator<[string, Entry]> {
    return this.entries.entries();
  }

  /** Keys of (rule, device), including ones indexed ahead of their first commit (they may be absent). */
  keysOf(pair: string): Iterable<string> {
    return this.pairs.get(pair) ?? [];
  }

  countOf(phase: AlertPhase): number {
    return this.phases.get(phase) ?? 0;
  }

  put(key: string, entry: Entry): void {
    const before = this.entries.get(key);
    if (before !== undefined) this.count(before.instance.phase, -1);
    this.count(entry.instance.phase, 1);
    this.entries.set(key, entry);
    this.index(key, entry.instance.rule, entry.instance.device);
  }

  /** Replaces an entry without changing its phase (a cached message, an ack). */
  update(key: string, entry: Entry): void {
    if (this.entries.has(key)) this.entries.set(key, entry);
  }

  drop(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.count(entry.instance.phase, -1);
    this.entries.delete(key);
    const pair = pairOf(entry.instance.rule, entry.instance.device);
    const keys = this.pairs.get(pair);
    keys?.delete(key);
    if (keys?.size === 0) this.pairs.delete(pair);
  }

  index(key: string, rule: string, device: string): void {
    const pair = pairOf(rule, device);
    let keys = this.pairs.get(pair);
    if (keys === undefined) this.pairs.set(pair, (keys = new Set()));
    keys.add(key);
  }

  private count(phase: AlertPhase, delta: number): void {
    this.phases.set(phase, (this.phases.get(phase) ?? 0) + delta);
  }
}

/**
 * The retained state of each (device, rule) a transition fired or resolved: the contract topic
 * has no sensor, so it is firing while any of the rule's instances on the device fires (the most
 * recent one shown), else resolved if this call resolved one.
 */
export function retainedStates(
  steps: Change['steps'],
  keysOf: (pair: string) => Iterable<string>,
  entryOf: (key: string) => Entry | undefined,
  lastWords: (key: string) => LastWords,
): Map<string, AlertState> {
  const states = new Map<string, AlertState>();
  for (const { rule, event } of steps) {
    if (event.to !== 'firing' && event.to !== 'resolved') continue;
    const pair = pairOf(rule.id, event.device);
    let firing: [string, Entry] | undefined;
    for (const key of keysOf(pair)) {
      const entry = entryOf(key);
      if (entry?.instance.phase === 'firing' && (firing === undefined || entry.instance.since >= firing[1].instance.since))
        firing = [key, entry];
    }
    // Steps come in order, so the last resolve of the call is the one that stays.
    if (firing !== undefined) states.set(pair, firingState(rule, firing[1], event.id, lastWords(firing[0])));
    else if (event.to === 'resolved') states.set(pair, resolvedState(rule, event));
  }
  return states;
}

/** The retained state after a firing instance: `eventId` is its episode, the id that acknowledges it. */
function firingState(rule: RuleRef, entry: Entry, fallbackId: string, last: LastWords): AlertState {
  const { instance } = entry;
  return {
    v: 1,
    device: instance.device,
    rule: rule.id,
    ...(instance.sensor === undefined ? {} : { sensor: instance.sensor }),
    state: 'firing',
    severity: rule.severity,
    since: instance.since,
    eventId: entry.episodeId ?? fallbackId,
    ...(last.value === undefined ? {} : { value: last.value }),
    message: last.message,
  };
}

function resolvedState(rule: RuleRef, event: AlertTransition): AlertState {
  return {
    v: 1,
    device: event.device,
    rule: rule.id,
    ...(event.sensor === undefined ? {} : { sensor: event.sensor }),
    state: 'resolved',
    severity: rule.severity,
    since: event.ts,
    eventId: event.id,
    ...(event.value === undefined ? {} : { value: event.value }),
    message: event.message,
  };
}

/** An entry as the API lists it: the message of its latest transition, the value of its latest input. */
export function toActiveAlert(key: string, entry: Entry, rule: Rule, message: string, silenced: boolean): ActiveAlert | undefined {
  const { instance } = entry;
  if (instance.phase !== 'pending' && instance.phase !== 'firing') return undefined;
  return {
    // Every episode begins with a transition, so the key is only a last resort for a hand-edited state.
    id: entry.episodeId ?? key,
    rule: rule.id,
    device: instance.device,
    ...(instance.sensor === undefined ? {} : { sensor: instance.sensor }),
    phase: instance.phase,
    severity: rule.severity,
    labels: { ...rule.labels },
    since: instance.since,
    ...(instance.value === undefined ? {} : { value: instance.value }),
    message,
    ...(entry.ack === undefined ? {} : { acknowledged: { ...entry.ack } }),
    silenced,
  };
}
