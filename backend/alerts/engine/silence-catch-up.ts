import type { AlertTransition } from '../../../contract/index.js';
import type { Change, Entry, LastWords, RuleRef } from './engine-state.js';
import { transitionOf } from './evaluator.js';
import { anySilenceMatches } from './silences.js';
import type { Silence } from '../types.js';

// A transition under a silence is logged but not notified, so an alert that began firing during
// maintenance would stay unheard after it unless `repeatEvery` reminded. So an instance whose
// latest firing notice was silenced owes one (`owedNotice`, stored with it so a restart keeps the
// debt): once no silence covers it (the silence expired or was ended early) it gets one
// `firing → firing` transition, not silenced, through the engine's usual commit. An acknowledged
// alert is skipped: someone already knows of it, and reminders of it are dropped too.

/** Added to the latest message of the alert, so the notification says why it comes now. */
export const SILENCE_ENDED = ' (silence ended)';

/** What the catch-up needs of the engine. */
export interface CatchUpSource {
  /** The instances in memory (the change's own entries take precedence). */
  entries: Iterable<[string, Entry]>;
  ruleOf(id: string): RuleRef | undefined;
  /** The silences in force now; only asked for when some instance owes a notice. */
  silences(): readonly Silence[];
  lastWords(key: string): LastWords;
  newId(): string;
}

/**
 * Records on the entry of a step whether it owes a notice now: a firing step (a reminder too)
 * under a silence does, any other step settles it. Call it for every step in order.
 */
export function markOwedNotice(change: Change, key: string, event: AlertTransition, silenced: boolean): void {
  const entry = change.entries.get(key);
  if (entry === undefined) return;
  const owed = event.to === 'firing' && silenced;
  if ((entry.owedNotice === true) !== owed) change.entries.set(key, { ...entry, owedNotice: owed ? true : undefined });
}

/** Adds the catch-up step of every firing, unacknowledged instance that owes a notice and no silence covers at `now`. */
export function catchUpSilenced(change: Change, now: number, source: CatchUpSource): void {
  // An instance that already stepped in this change is notified (or silenced) by that step.
  const stepped = new Set(change.steps.map((step) => step.key));
  const owing: Array<[string, Entry]> = [];
  for (const [key, remembered] of source.entries) {
    const entry = change.entries.get(key) ?? remembered;
    if (entry.owedNotice === true && entry.instance.phase === 'firing' && entry.ack === undefined && !stepped.has(key))
      owing.push([key, entry]);
  }
  if (owing.length === 0) return;
  const silences = source.silences();
  for (const [key, entry] of owing) {
    const { instance } = entry;
    const rule = source.ruleOf(instance.rule);
    if (rule === undefined || anySilenceMatches(silences, instance, now)) continue;
    const event = caughtUp(rule, entry, source.lastWords(key).message, now, source.newId());
    change.steps.push({ key, rule, event });
    // As a reminder would: the next one is due `repeatEvery` after this, on the instance's own clock.
    const notified = { ...instance, notifiedAt: instance.clock ?? now };
    change.entries.set(key, { ...entry, instance: notified, last: { message: event.message, value: event.value } });
  }
}

function caughtUp(rule: RuleRef, entry: Entry, message: string, ts: number, id: string): AlertTransition {
  const { instance } = entry;
  // A second catch-up in one episode (silenced again, reminded, released) says it once.
  const said = message.endsWith(SILENCE_ENDED) ? message.slice(0, -SILENCE_ENDED.length) : message;
  return transitionOf(rule, instance, 'firing', ts, `${said.slice(0, 1000 - SILENCE_ENDED.length)}${SILENCE_ENDED}`, id);
}
