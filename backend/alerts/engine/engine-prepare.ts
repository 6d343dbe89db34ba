// The part of an engine call between judging and committing: which instances to write, and the
// events and outbox rows of the transitions. Apart from the engine so that it reads as one step;
// it reads the engine's memory through the functions it is given and changes only `change`.
import { CHECKPOINT_MS, type Change, type Entry, type LastWords, differsInSubstance, pairOf, retainedStates } from './engine-state.js';
import { markOwedNotice } from './silence-catch-up.js';
import { anySilenceMatches } from './silences.js';
import type { ChannelItem, Silence } from '../types.js';

export interface PrepareDeps {
  /** The instance's entry as memory holds it, before this change. */
  before: (key: string) => Entry | undefined;
  keysOf: (pair: string) => Iterable<string>;
  silences: (now: number) => readonly Silence[];
  lastWords: (key: string) => LastWords;
  enqueue: (item: ChannelItem) => void;
}

/** Picks the entries to write (removed ones never are) and adds the steps' events and outbox rows. */
export function prepareChange(change: Change, now: number, deps: PrepareDeps): void {
  const stepped = new Set(change.steps.map((step) => step.key));
  const removed = new Set(change.remove);
  for (const [key, entry] of change.entries) {
    const before = deps.before(key);
    const write =
      before === undefined ||
      stepped.has(key) ||
      differsInSubstance(before.instance, entry.instance) ||
      (entry.dirty && now - entry.savedAt >= CHECKPOINT_MS);
    if (write && !removed.has(key)) change.write.add(key);
  }
  const silences = change.steps.length > 0 ? deps.silences(now) : [];
  const entryOf = (key: string) => change.entries.get(key) ?? deps.before(key);
  const states = retainedStates(change.steps, deps.keysOf, entryOf, deps.lastWords);
  for (const { key, rule, event } of change.steps) {
    const silenced = anySilenceMatches(silences, event, now);
    markOwedNotice(change, key, event, silenced);
    const state = event.to === 'firing' || event.to === 'resolved' ? states.get(pairOf(rule.id, event.device)) : undefined;
    change.events.push({ event, silenced });
    deps.enqueue({ kind: 'transition', seq: 0, event, silenced, ...(state === undefined ? {} : { state }) });
  }
}

/** The entries to write, each marked in `change` as saved at `now`. */
export function markSaved(change: Change, now: number): Entry[] {
  const upsert: Entry[] = [];
  for (const key of change.write) {
    const entry = change.entries.get(key);
    if (entry === undefined) continue;
    const saved = { ...entry, savedAt: now, dirty: false };
    change.entries.set(key, saved);
    upsert.push(saved);
  }
  return upsert;
}
