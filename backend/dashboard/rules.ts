import type { Rule, Severity, ThresholdRule } from './api-types.js';

// What the alert rules say about one sensor: the levels drawn on its chart and the colour of its tile.

export interface Level {
  value: number;
  kind: 'threshold' | 'clear';
  severity: Severity;
  label: string;
}

/** The backend's glob: `*` matches any run of characters, nothing else is special (backend/alerts/rules/glob.ts). */
export function globMatches(pattern: string, text: string): boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`).test(text);
}

const isThreshold = (rule: Rule): rule is ThresholdRule => rule.kind === 'threshold';

export function thresholdRulesFor(rules: readonly Rule[], device: string, sensor: string): ThresholdRule[] {
  return rules
    .filter(isThreshold)
    .filter((rule) => globMatches(rule.match.device, device) && globMatches(rule.match.sensor ?? '*', sensor));
}

/** The threshold and clear lines of the rules that match. */
export function levelsFor(rules: readonly ThresholdRule[]): Level[] {
  const levels: Level[] = [];
  for (const rule of rules) {
    const { id, severity } = rule;
    if (rule.above !== undefined) {
      levels.push({ value: rule.above, kind: 'threshold', severity, label: `${id} > ${rule.above}` });
      if (rule.clearAbove !== undefined && rule.clearAbove !== rule.above)
        levels.push({ value: rule.clearAbove, kind: 'clear', severity, label: `${id} clears < ${rule.clearAbove}` });
    }
    if (rule.below !== undefined) {
      levels.push({ value: rule.below, kind: 'threshold', severity, label: `${id} < ${rule.below}` });
      if (rule.clearBelow !== undefined && rule.clearBelow !== rule.below)
        levels.push({ value: rule.clearBelow, kind: 'clear', severity, label: `${id} clears > ${rule.clearBelow}` });
    }
  }
  return levels;
}

const RANK: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };

/** The most severe level a value is past, for the tile's colour; `ok` when none. */
export function severityOf(rules: readonly ThresholdRule[], value: number | null | undefined): Severity | 'ok' {
  if (value === null || value === undefined) return 'ok';
  let worst: Severity | 'ok' = 'ok';
  for (const rule of rules) {
    const past = (rule.above !== undefined && value > rule.above) || (rule.below !== undefined && value < rule.below);
    if (past && (worst === 'ok' || RANK[rule.severity] > RANK[worst])) worst = rule.severity;
  }
  return worst;
}

export function moreSevere(a: Severity | 'ok', b: Severity | 'ok'): Severity | 'ok' {
  if (a === 'ok') return b;
  if (b === 'ok') return a;
  return RANK[a] >= RANK[b] ? a : b;
}
