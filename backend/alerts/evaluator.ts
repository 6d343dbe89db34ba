import { randomUUID } from 'node:crypto';
import type { AlertTransition } from '../../contract/index.js';
import type { AlertInput, AlertInstance, AlertPhase, Evaluation } from './alert-state.js';
import { type Observation, observe } from './conditions.js';
import { compileGlob } from './glob.js';
import type { Rule } from './rule-schema.js';

// The alert state machine: inactive → pending → firing → resolved, and back to pending when
// the condition returns. `evaluate` is pure apart from the id generator, which tests replace:
// the same state, input and time always give the same result, so a restart that reloads the
// state cannot fire twice.

export type IdGenerator = () => string;

/** Whether a rule watches this device (and sensor; device-wide `offline` rules ignore the sensor). */
export function ruleApplies(rule: Rule, device: string, sensor: string | undefined): boolean {
  if (!compileGlob(rule.match.device)(device)) return false;
  if (rule.kind === 'offline') return true;
  return sensor !== undefined && compileGlob(rule.match.sensor)(sensor);
}

/** Whether the input is about this instance's device and sensor (ticks concern every instance). */
function concerns(instance: AlertInstance, input: AlertInput): boolean {
  switch (input.type) {
    case 'tick':
      return true;
    case 'status':
      return input.device === instance.device;
    case 'reading':
      return input.device === instance.device && input.reading.sensor === instance.sensor;
    case 'sensor-state':
      return input.device === instance.device && input.sensor === instance.sensor;
  }
}

/** The contract's transition of an instance from its current phase to `to`. */
export function transitionOf(rule: Pick<Rule, 'id' | 'severity'>, state: AlertInstance, to: AlertPhase, ts: number, message: string, id: string): AlertTransition {
  return {
    v: 1,
    id,
    device: state.device,
    rule: rule.id,
    ...(state.sensor === undefined ? {} : { sensor: state.sensor }),
    from: state.phase,
    to,
    ts,
    severity: rule.severity,
    ...(state.value === undefined ? {} : { value: state.value }),
    message: message.slice(0, 1000),
  };
}

function step(rule: Rule, previous: AlertInstance, observation: Observation, newId: IdGenerator): Evaluation {
  // Time on one instance's clock never runs backwards, so a late reading cannot shorten or undo a wait.
  const at = Math.max(observation.at, previous.clock ?? observation.at);
  const holds = observation.holds ?? previous.holds;
  let next: AlertInstance = {
    ...previous,
    clock: at,
    holds,
    memory: observation.memory,
    ...(observation.value === undefined ? {} : { value: observation.value }),
  };
  const transitions: AlertTransition[] = [];
  const move = (to: AlertPhase) => {
    transitions.push(transitionOf(rule, next, to, at, observation.message, newId()));
    // A reminder (firing → firing) is not a new state: `since` keeps saying when it began firing.
    next = { ...next, phase: to, since: to === next.phase ? next.since : at };
  };
  const remindIfDue = () => {
    // A state saved without a notification time counts from now rather than never reminding.
    next.notifiedAt ??= at;
    if (rule.repeatEvery !== undefined && at - next.notifiedAt >= rule.repeatEvery) {
      move('firing');
      next.notifiedAt = at;
    }
  };

  if (holds) {
    next.clearSince = undefined;
    const holdingSince = previous.holds && previous.holdingSince !== undefined ? previous.holdingSince : at;
    next.holdingSince = holdingSince;
    const due = at - holdingSince >= rule.for;
    switch (next.phase) {
      case 'inactive':
      case 'resolved':
      case 'pending':
        if (due) {
          move('firing');
          next.notifiedAt = at;
        } else if (next.phase !== 'pending') move('pending');
        break;
      case 'firing':
        remindIfDue();
        break;
    }
  } else {
    next.holdingSince = undefined;
    switch (next.phase) {
      case 'inactive':
      case 'resolved':
        break;
      case 'pending':
        move('inactive');
        break;
      case 'firing': {
        // keepFiringFor: a condition that stops only briefly does not resolve and re-fire.
        const clearSince = next.clearSince ?? at;
        next.clearSince = clearSince;
        if (at - clearSince >= rule.keepFiringFor) {
          move('resolved');
          next.clearSince = undefined;
          next.notifiedAt = undefined;
        } else remindIfDue();
        break;
      }
    }
  }
  return { instance: next, transitions };
}

/**
 * Evaluates one rule's instance against one input at `now` (the backend's clock), returning
 * the new state and the transitions it made (none or one; a reminder is a firing → firing
 * transition). The previous state is never modified.
 */
export function evaluate(
  rule: Rule,
  previous: AlertInstance,
  input: AlertInput,
  now: number,
  newId: IdGenerator = randomUUID,
): Evaluation {
  if (!concerns(previous, input)) return { instance: previous, transitions: [] };
  const observation = observe(rule, previous, input, now);
  if (observation === undefined) return { instance: previous, transitions: [] };
  return step(rule, previous, observation, newId);
}
