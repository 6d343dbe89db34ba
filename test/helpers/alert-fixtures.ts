import type { AlertTransition, Reading } from '../../contract/index.js';
import { type AlertInput, type AlertInstance, newInstance } from '../../backend/alerts/alert-state.js';
import { evaluate } from '../../backend/alerts/engine/evaluator.js';
import { parseRules, type Rule } from '../../backend/alerts/rules/rule-schema.js';

// Shared by the evaluator tests: parse a rule as an operator writes it, then drive one
// instance through a scripted run with explicit times, collecting every transition.

export function rule(raw: Record<string, unknown>): Rule {
  const parsed = parseRules([{ id: 'r1', match: { device: 'furnace-1', sensor: 'tc1' }, severity: 'critical', ...raw }]);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const [only] = parsed.rules;
  if (only === undefined) throw new Error('no rule parsed');
  return only;
}

export function reading(ts: number, value: number | null, extra: Partial<Reading> = {}): AlertInput {
  const quality = value === null ? 'bad' : 'good';
  return {
    type: 'reading',
    device: 'furnace-1',
    reading: { seq: 1, ts, sensor: 'tc1', value, unit: 'C', quality, clock: 'synced', replay: false, ...extra },
  };
}

/** One instance driven by a sequence of inputs; `now` defaults to the reading's source time. */
export class Run {
  instance: AlertInstance;
  readonly transitions: AlertTransition[] = [];
  private counter = 0;

  constructor(
    private readonly subject: Rule,
    /** `null` for a device-wide instance (`offline`). */
    sensor: string | null = 'tc1',
  ) {
    this.instance = newInstance(subject.id, 'furnace-1', sensor ?? undefined, 0);
  }

  feed(input: AlertInput, now?: number): AlertTransition[] {
    const at = now ?? (input.type === 'reading' ? input.reading.ts : 0);
    const result = evaluate(this.subject, this.instance, input, at, () => `id-${++this.counter}`);
    this.instance = result.instance;
    this.transitions.push(...result.transitions);
    return result.transitions;
  }

  /** The `from→to` of every transition so far, the shape most assertions want. */
  get path(): string[] {
    return this.transitions.map((t) => `${t.from}→${t.to}`);
  }

  count(to: AlertTransition['to']): number {
    return this.transitions.filter((t) => t.to === to).length;
  }
}
