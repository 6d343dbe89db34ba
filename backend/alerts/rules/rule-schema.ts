import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { SEGMENT_PATTERN, Severity } from '../../../contract/index.js';
import { GLOB_PATTERN } from './glob.js';
import { crossFieldProblems, limitsOf } from './rule-checks.js';

// Alert rules as operators write them in the backend config. Each kind has its own closed
// object schema (no unknown keys, so a typo such as `abvoe` is refused, not ignored), and
// the checks one schema cannot express (hysteresis direction) live in rule-checks.ts.

const Millis = (description: string) => Type.Integer({ minimum: 0, default: 0, description });

const common = {
  id: Type.String({ pattern: SEGMENT_PATTERN, description: 'rule id; becomes a topic level' }),
  match: Type.Object(
    {
      device: Type.String({ pattern: GLOB_PATTERN, description: 'device id, exact or with `*`' }),
      sensor: Type.String({ pattern: GLOB_PATTERN, default: '*', description: 'sensor id, exact or with `*`' }),
    },
    { additionalProperties: false },
  ),
  severity: Severity,
  // Defaults sit on the schemas so `Value.Default` fills them before the check.
  labels: Type.Record(Type.String(), Type.String(), { default: {} }),
  for: Millis('the condition must hold this long before the alert fires'),
  keepFiringFor: Millis('the alert keeps firing this long after the condition stops'),
  repeatEvery: Type.Optional(Type.Integer({ minimum: 1, description: 'remind this often while firing' })),
};

const kindSchema = <K extends string, P extends Record<string, TSchema>>(kind: K, props: P) =>
  Type.Object({ kind: Type.Literal(kind), ...common, ...props }, { additionalProperties: false });

export const ThresholdRule = kindSchema('threshold', {
  above: Type.Optional(Type.Number({ description: 'fire when the value rises above this' })),
  clearAbove: Type.Optional(Type.Number({ description: 'clear once the value falls below this (default: above)' })),
  below: Type.Optional(Type.Number({ description: 'fire when the value falls below this' })),
  clearBelow: Type.Optional(Type.Number({ description: 'clear once the value rises above this (default: below)' })),
});
export const RateRule = kindSchema('rate', {
  above: Type.Optional(Type.Number({ description: 'fire when the value rises faster than this per minute' })),
  below: Type.Optional(Type.Number({ description: 'fire when the change per minute is below this (e.g. -50)' })),
  window: Type.Integer({ minimum: 1000, description: 'the span the change is measured over, ms' }),
});
export const StaleRule = kindSchema('stale', {
  after: Type.Integer({ minimum: 1, description: 'fire when no reading arrived for this long, ms' }),
});
export const OfflineRule = kindSchema('offline', {});
export const SensorRule = kindSchema('sensor', {});

export type ThresholdRule = Static<typeof ThresholdRule>;
export type RateRule = Static<typeof RateRule>;
export type StaleRule = Static<typeof StaleRule>;
export type OfflineRule = Static<typeof OfflineRule>;
export type SensorRule = Static<typeof SensorRule>;
export type Rule = ThresholdRule | RateRule | StaleRule | OfflineRule | SensorRule;
export type RuleKind = Rule['kind'];

const checkers = {
  threshold: TypeCompiler.Compile(ThresholdRule),
  rate: TypeCompiler.Compile(RateRule),
  stale: TypeCompiler.Compile(StaleRule),
  offline: TypeCompiler.Compile(OfflineRule),
  sensor: TypeCompiler.Compile(SensorRule),
} as const;
const KINDS = Object.keys(checkers) as RuleKind[];

export type ParsedRules = { ok: true; rules: readonly Rule[] } | { ok: false; problems: string[] };

const isKind = (value: unknown): value is RuleKind => KINDS.includes(value as RuleKind);

/** `/match/device` → `.match.device`, so a problem reads `rules[2].match.device`. */
const fieldOf = (path: string) => path.replace(/\//g, '.');

/** `(rule overheat)` when the rule has a usable id, so operators find it in a long file. */
function ruleName(value: unknown): string {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' && new RegExp(SEGMENT_PATTERN).test(id) ? ` (rule ${id})` : '';
}

/** A union of literals answers "expected one of a, b" instead of TypeBox's bare "Expected union value". */
function explain(schema: TSchema, message: string): string {
  const options = (schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  if (options?.every((option) => option.const !== undefined)) {
    return `expected one of ${options.map((option) => String(option.const)).join(', ')}`;
  }
  return message;
}

function parseRule(raw: unknown, at: string, problems: string[]): Rule | undefined {
  const name = ruleName(raw);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${at}: expected a rule object`);
    return undefined;
  }
  const kind = (raw as { kind?: unknown }).kind;
  if (!isKind(kind)) {
    problems.push(`${at}.kind${name}: expected one of ${KINDS.join(', ')}`);
    return undefined;
  }
  const checker = checkers[kind];
  const value: unknown = Value.Default(checker.Schema(), Value.Clone(raw));
  // Defaults are filled on a copy: the caller's value (say, the parsed YAML) stays as written.
  // TypeBox may report one field several ways; the first is the most specific.
  const reported = new Set<string>();
  const before = problems.length;
  for (const error of checker.Errors(value)) {
    const field = fieldOf(error.path);
    if (reported.has(field)) continue;
    reported.add(field);
    problems.push(`${at}${field}${name}: ${explain(error.schema, error.message)}`);
  }
  for (const { field, message } of crossFieldProblems(kind, limitsOf(raw))) {
    if (!reported.has(`.${field}`)) problems.push(`${at}.${field}${name}: ${message}`);
  }
  return problems.length === before && checker.Check(value) ? value : undefined;
}

/** Checks a whole rule set and reports every problem at once; a set with any problem is refused whole. */
export function parseRules(value: unknown): ParsedRules {
  if (!Array.isArray(value)) return { ok: false, problems: ['rules: expected a list of rules'] };
  const problems: string[] = [];
  const rules: Rule[] = [];
  const firstIndex = new Map<string, number>();
  value.forEach((raw: unknown, index) => {
    const at = `rules[${index}]`;
    const rule = parseRule(raw, at, problems);
    if (rule === undefined) return;
    const earlier = firstIndex.get(rule.id);
    if (earlier !== undefined) {
      problems.push(`${at}.id (rule ${rule.id}): duplicate of rules[${earlier}]`);
      return;
    }
    firstIndex.set(rule.id, index);
    rules.push(Object.freeze(rule));
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules: Object.freeze(rules) };
}
