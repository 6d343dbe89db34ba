import { judgeStatus, markAfter } from '../../registry/status-order.js';
import type { AlertInput, AlertInstance, ConditionMemory } from '../alert-state.js';
import type { OfflineRule, RateRule, Rule, SensorRule, StaleRule, ThresholdRule } from '../rules/rule-schema.js';

// What each kind of rule makes of one input: whether its condition holds, at what time,
// and what it must remember. The state machine in evaluator.ts is the same for all kinds.

export interface Observation {
  /** Undefined: this input says nothing new about the condition, only that time passed. */
  holds: boolean | undefined;
  /** The time the observation is judged at: source time for readings, arrival time otherwise. */
  at: number;
  value?: number | null;
  memory: ConditionMemory;
  message: string;
}

/** The most samples a rate window keeps, so a fast sensor and a long window cannot grow memory without bound. */
const MAX_RATE_SAMPLES = 10_000;

/**
 * A tick for a rule judged on source time: the source time now is the newest reading's plus the
 * time since it arrived. The condition stays as the last reading left it; only time moves.
 */
function sourceTick(state: AlertInstance, now: number, message: string): Observation | undefined {
  const heard = state.memory.heard;
  if (heard === undefined) return undefined;
  return { holds: undefined, at: heard.ts + Math.max(0, now - heard.at), memory: state.memory, message };
}

/** What a reading leaves in memory for sourceTick; a replayed (older) reading does not move it back. */
function heardNow(state: AlertInstance, ts: number, now: number): ConditionMemory['heard'] {
  const heard = state.memory.heard;
  return heard !== undefined && heard.ts > ts ? heard : { ts, at: now };
}

function threshold(rule: ThresholdRule, state: AlertInstance, input: AlertInput, now: number): Observation | undefined {
  if (input.type === 'tick') {
    const { breached } = state.memory;
    const limit = breached === 'above' ? rule.above : rule.below;
    const last = state.value === undefined || state.value === null ? '' : ` (last value ${state.value})`;
    return sourceTick(
      state,
      now,
      breached === undefined
        ? `${state.sensor ?? 'sensor'} within limits${last}`
        : `${state.sensor ?? 'sensor'} ${breached} ${limit}${last}`,
    );
  }
  // A bad reading carries no usable value: it neither triggers nor clears (the `sensor` kind reports it).
  if (input.type !== 'reading' || input.reading.quality === 'bad' || input.reading.value === null) return undefined;
  const { value, ts } = input.reading;
  // A reading older than one already judged (a replayed backlog beside live readings) is history:
  // an hour-old value below the limit must not resolve an overheat the newest readings show.
  if (ts < (state.memory.heard?.ts ?? -Infinity)) return undefined;
  let breached = state.memory.breached;
  // Hysteresis: a breach starts past the limit and only ends past the clear level, so a value
  // hovering between the two keeps the state it had.
  if (breached === 'above' && value < (rule.clearAbove ?? rule.above ?? Infinity)) breached = undefined;
  if (breached === 'below' && value > (rule.clearBelow ?? rule.below ?? -Infinity)) breached = undefined;
  if (breached === undefined && rule.above !== undefined && value > rule.above) breached = 'above';
  if (breached === undefined && rule.below !== undefined && value < rule.below) breached = 'below';
  const memory = { ...state.memory, breached, heard: heardNow(state, ts, now) };
  const message =
    breached === undefined
      ? `${input.reading.sensor} is ${value}, within limits`
      : `${input.reading.sensor} is ${value}, ${breached} ${breached === 'above' ? rule.above : rule.below}`;
  return { holds: breached !== undefined, at: ts, value, memory, message };
}

function rate(rule: RateRule, state: AlertInstance, input: AlertInput, now: number): Observation | undefined {
  if (input.type === 'tick') return sourceTick(state, now, `${state.sensor ?? 'sensor'}: rate as last measured`);
  if (input.type !== 'reading' || input.reading.quality === 'bad' || input.reading.value === null) return undefined;
  const { value, ts } = input.reading;
  const previous = state.memory.samples ?? [];
  // Readings are judged in arrival order on source time; one older than the newest sample would bend the slope.
  if (previous.length > 0 && ts <= (previous[previous.length - 1]?.ts ?? -Infinity)) return undefined;
  const samples = [...previous, { ts, value }].filter((sample) => sample.ts >= ts - rule.window).slice(-MAX_RATE_SAMPLES);
  const memory = { ...state.memory, samples, heard: heardNow(state, ts, now) };
  const first = samples[0];
  const span = first === undefined ? 0 : ts - first.ts;
  // Two samples a second apart say little about a window of minutes: wait for half the window.
  if (first === undefined || span < rule.window / 2) {
    return { holds: undefined, at: ts, value, memory, message: `${input.reading.sensor}: not enough readings for a rate` };
  }
  const perMinute = ((value - first.value) / span) * 60_000;
  const holds = (rule.above !== undefined && perMinute > rule.above) || (rule.below !== undefined && perMinute < rule.below);
  const message = `${input.reading.sensor} changes ${perMinute.toFixed(1)} per minute over ${Math.round(span / 1000)} s`;
  return { holds, at: ts, value, memory, message };
}

function stale(rule: StaleRule, state: AlertInstance, input: AlertInput, now: number): Observation | undefined {
  if (input.type === 'reading') {
    // A replay is old news arriving late: it says nothing about whether the sensor speaks now.
    if (input.reading.replay) return undefined;
    return { holds: false, at: now, memory: { ...state.memory, lastArrival: now }, message: `${input.reading.sensor} reports again` };
  }
  if (input.type !== 'tick' || state.memory.lastArrival === undefined) return undefined;
  const silent = now - state.memory.lastArrival;
  const holds = silent >= rule.after;
  return {
    holds,
    at: now,
    memory: state.memory,
    message: `no reading from ${state.sensor ?? 'the device'} for ${Math.round(silent / 1000)} s`,
  };
}

function offline(_rule: OfflineRule, state: AlertInstance, input: AlertInput, now: number): Observation | undefined {
  if (input.type === 'tick') return { holds: undefined, at: now, memory: state.memory, message: `${state.device} is offline` };
  if (input.type !== 'status') return undefined;
  const { status: held, ...rest } = state.memory;
  let memory: ConditionMemory = rest;
  if (input.ts !== undefined) {
    // The same order as the device registry: the will of the agent's current connection counts, a
    // stale retained status (an earlier connection's will, an old boot's) is no news.
    const said = { state: input.state, ts: input.ts, boot: input.boot };
    if (judgeStatus(held, said) !== 'newer') return undefined;
    memory = { ...rest, status: markAfter(held, said) };
  }
  return { holds: input.state === 'offline', at: now, memory, message: `${state.device} is ${input.state}` };
}

function sensor(_rule: SensorRule, state: AlertInstance, input: AlertInput, now: number): Observation | undefined {
  const name = state.sensor ?? 'sensor';
  switch (input.type) {
    case 'tick':
      return { holds: undefined, at: now, memory: state.memory, message: `${name} is still unhealthy` };
    case 'status':
      return undefined;
    case 'sensor-state': {
      const memory = { ...state.memory, healthBad: input.state !== 'ok' };
      const reason = input.reason === undefined ? '' : `: ${input.reason}`;
      return { holds: memory.healthBad || memory.readingBad === true, at: now, memory, message: `${name} is ${input.state}${reason}` };
    }
    case 'reading': {
      const memory = { ...state.memory, readingBad: input.reading.quality === 'bad' };
      const message = `${name} reading quality is ${input.reading.quality}`;
      return { holds: memory.readingBad || memory.healthBad === true, at: now, value: input.reading.value, memory, message };
    }
  }
}

/** Interprets one input for one rule; undefined when the input does not concern the rule at all. */
export function observe(rule: Rule, state: AlertInstance, input: AlertInput, now: number): Observation | undefined {
  switch (rule.kind) {
    case 'threshold':
      return threshold(rule, state, input, now);
    case 'rate':
      return rate(rule, state, input, now);
    case 'stale':
      return stale(rule, state, input, now);
    case 'offline':
      return offline(rule, state, input, now);
    case 'sensor':
      return sensor(rule, state, input, now);
  }
}
