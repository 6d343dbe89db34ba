import type { RuleKind } from './rule-schema.js';

// Checks across fields of one rule, which a JSON Schema cannot say: hysteresis only
// prevents flapping when the clear level sits on the safe side of its limit. They read only
// the limits that are numbers, so they also run on a rule with schema errors elsewhere and
// an operator sees every problem in one go.

/** The numeric limits of a rule; anything not a number is left out (the schema reports it). */
export interface Limits {
  above?: number | undefined;
  below?: number | undefined;
  clearAbove?: number | undefined;
  clearBelow?: number | undefined;
}

export function limitsOf(raw: object): Limits {
  const pick = (key: keyof Limits) => {
    const value = (raw as Record<string, unknown>)[key];
    return typeof value === 'number' ? value : undefined;
  };
  return { above: pick('above'), below: pick('below'), clearAbove: pick('clearAbove'), clearBelow: pick('clearBelow') };
}

export interface FieldProblem {
  field: string;
  message: string;
}

function thresholdProblems(rule: Limits): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const { above, below, clearAbove, clearBelow } = rule;
  if (above === undefined && below === undefined) {
    problems.push({ field: 'above', message: 'a threshold rule needs `above`, `below` or both' });
  }
  if (clearAbove !== undefined) {
    if (above === undefined) problems.push({ field: 'clearAbove', message: 'only makes sense with `above`' });
    else if (clearAbove > above) {
      problems.push({ field: 'clearAbove', message: `must be at or below above (${above}), got ${clearAbove}` });
    }
  }
  if (clearBelow !== undefined) {
    if (below === undefined) problems.push({ field: 'clearBelow', message: 'only makes sense with `below`' });
    else if (clearBelow < below) {
      problems.push({ field: 'clearBelow', message: `must be at or above below (${below}), got ${clearBelow}` });
    }
  }
  if (above !== undefined && below !== undefined && below >= above) {
    problems.push({ field: 'below', message: `must be less than above (${above}), got ${below}` });
  }
  return problems;
}

function rateProblems(rule: Limits): FieldProblem[] {
  if (rule.above === undefined && rule.below === undefined) {
    return [{ field: 'above', message: 'a rate rule needs `above`, `below` or both (change per minute)' }];
  }
  if (rule.above !== undefined && rule.below !== undefined && rule.below >= rule.above) {
    return [{ field: 'below', message: `must be less than above (${rule.above}), got ${rule.below}` }];
  }
  return [];
}

export function crossFieldProblems(kind: RuleKind, limits: Limits): FieldProblem[] {
  switch (kind) {
    case 'threshold':
      return thresholdProblems(limits);
    case 'rate':
      return rateProblems(limits);
    case 'stale':
    case 'offline':
    case 'sensor':
      return [];
  }
}
