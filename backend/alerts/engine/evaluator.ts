import { randomUUID } from 'node:crypto';
import type { AlertTransition } from '../../../contract/index.js';
import type { AlertInput, AlertInstance, AlertPhase, Evaluation } from '../alert-state.js';
import { type Observation, observe } from './conditions.js';
import { compileGlob } from '../rules/glob.js';
import type { Rule } from '../rules/rule-schema.js';

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
export function transitionOf(
  rule: Pick<Rule, 'id' | 'severity'>,
  state: AlertInstance,
  to: AlertPhase,
  ts: number,
  message: string,
  id: string,
): AlertTransition {
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

/** One step's instance as it changes, and the moves that change it. */
interface Step {
  next: AlertInstance;
  readonly at: number;
  /** A transition to `to`, recorded. */
  move(to: AlertPhase): void;
  /** A reminder (firing → firing) once rule.repeatEvery has passed since the last notification. */
  remindIfDue(): void;
}

function step(rule: Rule, previous: AlertInstance, observation: Observation, newId: IdGenerator): Evaluation {
  // Time on one instance's clock never runs backwards, so a late reading cannot shorten or undo a wait.
  const at = Math.max(observation.at, previous.clock ?? observation.at);
  const holds = observation.holds ?? previous.holds;
  const transitions: AlertTransition[] = [];
  const current: Step = {
    next: {
      ...previous,
      clock: at,
      holds,
      memory: observation.memory,
      ...(observation.value === undefined ? {} : { value: observation.value }),
    },
    at,
    move(to) {
      const { next } = current;
      transitions.push(transitionOf(rule, next, to, at, observation.message, newId()));
      // A reminder (firing → firing) is not a new state: `since` keeps saying when it began firing.
      current.next = { ...next, phase: to, since: to === next.phase ? next.since : at };
    },
    remindIfDue() {
      // A state saved without a notification time counts from now rather than never reminding.
      current.next.notifiedAt ??= at;
      if (rule.repeatEvery !== undefined && at - current.next.notifiedAt >= rule.repeatEvery) {
        current.move('firing');
        current.next.notifiedAt = at;
      }
    },
  };
  if (holds) whileHolding(rule, previous, current);
  else whileClear(rule, current);
  return { instance: current.next, transitions };
}

/** The condition holds: pending, then firing once it has held for rule.for; reminders while firing. */
function whileHolding(rule: Rule, previous: AlertInstance, current: Step): void {
  const { at } = current;
  current.next.clearSince = undefined;
  const holdingSince = previous.holds && previous.holdingSince !== undefined ? previous.holdingSince : at;
  current.next.holdingSince = holdingSince;
  const due = at - holdingSince >= rule.for;
  switch (current.next.phase) {
    case 'inactive':
    case 'resolved':
    case 'pending':
      if (due) {
        current.move('firing');
        current.next.notifiedAt = at;
      } else if (current.next.phase !== 'pending') current.move('pending');
      break;
    case 'firing':
      current.remindIfDue();
      break;
  }
}

/** The condition does not hold: pending ends, firing resolves after rule.keepFiringFor. */
function whileClear(rule: Rule, current: Step): void {
  const { at } = current;
  current.next.holdingSince = undefined;
  switch (current.next.phase) {
    case 'inactive':
    case 'resolved':
      break;
    case 'pending':
      current.move('inactive');
      break;
    case 'firing': {
      // keepFiringFor: a condition that stops only briefly does not resolve and re-fire.
      const clearSince = current.next.clearSince ?? at;
      current.next.clearSince = clearSince;
      if (at - clearSince >= rule.keepFiringFor) {
        current.move('resolved');
        current.next.clearSince = undefined;
        current.next.notifiedAt = undefined;
      } else current.remindIfDue();
      break;
    }
  }
}

/**
 * Evaluates one rule's instance against one input at `now` (the backend's clock), returning
 * the new state and the transitions it made (none or one; a reminder is a firing → firing
 * transition). The previous state is never modified.
 */
export function evaluate(rule: Rule, previous: AlertInstance, input: AlertInput, now: number, newId: IdGenerator = randomUUID): Evaluation {
  if (!concerns(previous, input)) return { instance: previous, transitions: [] };
  const observation = observe(rule, previous, input, now);
  if (observation === undefined) return { instance: previous, transitions: [] };
  return step(rule, previous, observation, newId);
}
