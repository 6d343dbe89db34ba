// The rules in force, with the ones that apply to each device and sensor cached: globs are matched
// once per pair, not once per reading.
import { ruleApplies } from './evaluator.js';
import type { Rule } from '../rules/rule-schema.js';

// Bounded in case device or sensor ids churn; rebuilding is cheap.
const MAX_PAIRS = 100_000;

export class RuleSet {
  /** Rules by `device/sensor` ('' for device-wide). */
  private readonly applicable = new Map<string, readonly Rule[]>();

  constructor(readonly rules: readonly Rule[]) {}

  /** The rules judging this sensor of the device; with no sensor, the device-wide (offline) ones. */
  for(device: string, sensor: string | undefined): readonly Rule[] {
    const cacheKey = `${device}/${sensor ?? ''}`;
    let rules = this.applicable.get(cacheKey);
    if (rules === undefined) {
      rules = this.rules.filter((rule) => (rule.kind === 'offline') === (sensor === undefined) && ruleApplies(rule, device, sensor));
      if (this.applicable.size >= MAX_PAIRS) this.applicable.clear();
      this.applicable.set(cacheKey, rules);
    }
    return rules;
  }
}
