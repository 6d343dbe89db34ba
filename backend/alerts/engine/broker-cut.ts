import type { AlertInstance } from '../alert-state.js';
import type { InstanceTable } from './engine-state.js';
import type { Rule } from '../rules/rule-schema.js';

// The backend cut off from the broker hears nothing from anyone: not a reading, not a birth. For
// the rules whose condition IS hearing nothing that time must not count, or a broker restart (which
// sends every agent's will as it goes down) would page for every agent. It is the allowance a
// restart of the backend makes (engine-state.ts, resumed), with the length of the cut known.

/** Kinds whose condition is hearing nothing: no reading (stale), the agent's will and no birth since (offline). */
export const deafKinds: ReadonlySet<Rule['kind']> = new Set(['stale', 'offline']);

/**
 * An instance once the backend is back on the broker at `to` after being cut off since `from`.
 * Every time taken before the cut moves on by its length: the silence, the time offline and the
 * time back online seen before it still count, the cut does not. A time taken during the cut
 * (an input handled before the connection was reported) counts from the reconnection.
 */
export function bridged(instance: AlertInstance, from: number, to: number): AlertInstance {
  if (to <= from) return instance;
  const move = (t: number) => (t <= from ? t + (to - from) : Math.max(t, to));
  const { holdingSince, clearSince } = instance;
  const { lastArrival } = instance.memory;
  if (holdingSince === undefined && clearSince === undefined && lastArrival === undefined) return instance;
  return {
    ...instance,
    ...(holdingSince === undefined ? {} : { holdingSince: move(holdingSince) }),
    ...(clearSince === undefined ? {} : { clearSince: move(clearSince) }),
    memory: { ...instance.memory, ...(lastArrival === undefined ? {} : { lastArrival: move(lastArrival) }) },
  };
}

/** Whether the backend is cut off from the broker, and since when. */
export class BrokerCut {
  private since: number | undefined;

  /** Whether ticks may judge a rule of this kind now. */
  judges(kind: Rule['kind']): boolean {
    return this.since === undefined || !deafKinds.has(kind);
  }

  /** The cut begins at `at`; false when it had begun already. */
  begin(at: number): boolean {
    if (this.since !== undefined) return false;
    this.since = at;
    return true;
  }

  /**
   * The cut ends at `at`: the deaf instances are bridged over it in memory only (the next
   * checkpoint writes them; a restart in between makes its own allowance). Returns the length of
   * the cut, or undefined when there was none.
   */
  end(at: number, instances: InstanceTable, ruleOf: (id: string) => Rule | undefined): number | undefined {
    const from = this.since;
    if (from === undefined) return undefined;
    this.since = undefined;
    for (const [key, entry] of instances) {
      const kind = ruleOf(entry.instance.rule)?.kind;
      if (kind === undefined || !deafKinds.has(kind)) continue;
      const instance = bridged(entry.instance, from, at);
      if (instance !== entry.instance) instances.update(key, { ...entry, instance, dirty: true });
    }
    return Math.max(0, at - from);
  }
}
