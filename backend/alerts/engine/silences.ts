import { randomUUID } from 'node:crypto';
import { ApiError } from '../../errors.js';
import { GLOB_PATTERN, compileGlob } from '../rules/glob.js';
import type { NewSilence, Silence, SilenceMatchers } from '../types.js';

// Silences: glob matchers over (device, sensor, rule) with a time window. A silenced transition
// is still logged and still changes the retained state; only notifications skip it.

const MATCHER_FIELDS = ['device', 'sensor', 'rule'] as const;
const GLOB = new RegExp(GLOB_PATTERN);
const MAX_COMMENT = 1000;

export interface SilenceTarget {
  device: string;
  /** Undefined for device-wide alerts (`offline`): only a sensor matcher of `*` covers them. */
  sensor?: string | undefined;
  rule: string;
}

/** Whether the silence is in force at `now` and its matchers cover the alert. */
export function silenceMatches(silence: Silence, target: SilenceTarget, now: number): boolean {
  if (now < silence.startsAt || now >= silence.endsAt) return false;
  const { matchers } = silence;
  if (!compileGlob(matchers.device)(target.device) || !compileGlob(matchers.rule)(target.rule)) return false;
  return target.sensor === undefined ? matchers.sensor === '*' : compileGlob(matchers.sensor)(target.sensor);
}

/** Whether any of `silences` covers the alert at `now`. */
export function anySilenceMatches(silences: readonly Silence[], target: SilenceTarget, now: number): boolean {
  return silences.some((silence) => silenceMatches(silence, target, now));
}

/** Every problem of a silence request, each naming its field (`matchers.device: ...`); empty when it is fine. */
export function silenceProblems(input: NewSilence, now: number): string[] {
  const problems: string[] = [];
  const matchers = input.matchers as unknown;
  if (typeof matchers !== 'object' || matchers === null || Array.isArray(matchers)) {
    problems.push('matchers: expected an object of device, sensor and rule globs');
  } else {
    for (const [field, value] of Object.entries(matchers)) {
      if (value === undefined) continue;
      if (!(MATCHER_FIELDS as readonly string[]).includes(field))
        problems.push(`matchers.${field}: unknown matcher (use device, sensor, rule)`);
      else if (typeof value !== 'string' || !GLOB.test(value)) {
        problems.push(`matchers.${field}: expected 1 to 64 characters of A-Z a-z 0-9 _ - and *, got ${JSON.stringify(value)}`);
      }
    }
  }
  const startsAt = input.startsAt ?? now;
  if (!Number.isSafeInteger(startsAt) || startsAt < 0)
    problems.push(`startsAt: expected Unix milliseconds, got ${JSON.stringify(input.startsAt)}`);
  if (!Number.isSafeInteger(input.endsAt)) problems.push(`endsAt: expected Unix milliseconds, got ${JSON.stringify(input.endsAt)}`);
  else if (input.endsAt <= startsAt) problems.push(`endsAt: must be after startsAt (${startsAt}), got ${input.endsAt}`);
  else if (input.endsAt <= now) problems.push(`endsAt: must be in the future (now is ${now}), got ${input.endsAt}`);
  if (input.comment !== undefined && (typeof input.comment !== 'string' || input.comment.length > MAX_COMMENT)) {
    problems.push(`comment: expected a string of at most ${MAX_COMMENT} characters`);
  }
  return problems;
}

/** A checked silence request as a Silence; matchers left out match everything. */
export function buildSilence(input: NewSilence, by: string, now: number, newId: () => string = randomUUID): Silence {
  const { device = '*', sensor = '*', rule = '*' } = input.matchers;
  const matchers: SilenceMatchers = { device, sensor, rule };
  return {
    id: newId(),
    matchers,
    startsAt: input.startsAt ?? now,
    endsAt: input.endsAt,
    createdBy: by,
    comment: input.comment ?? '',
    createdAt: now,
  };
}

/**
 * Checks a silence request and hands the silence to `save`. A bad request throws API_BAD_REQUEST
 * naming every problem, so the HTTP layer answers 400 without knowing about silences.
 */
export function checkSilence(input: NewSilence, by: string, now: number, save: (silence: Silence) => void, newId?: () => string): Silence {
  const problems = silenceProblems(input, now);
  if (problems.length > 0) throw new ApiError('API_BAD_REQUEST', problems.join('; '));
  const silence = buildSilence(input, by, now, newId);
  save(silence);
  return silence;
}
