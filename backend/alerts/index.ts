// The alert rule engine core: rules, their parsing, and the pure evaluation of one
// (rule, device, sensor) instance. Wiring to ingest, the store and MQTT comes later.
export { type Rule, type RuleKind, type ParsedRules, parseRules } from './rule-schema.js';
export { type AlertPhase, type AlertInstance, type AlertInput, type Evaluation, newInstance, instanceKey } from './alert-state.js';
export { type IdGenerator, evaluate, ruleApplies } from './evaluator.js';
export { GLOB_PATTERN, compileGlob, matchesGlob } from './glob.js';
