// A firing program: the setpoint as a function of simulated time (spec §18).
import { HardwareError } from './errors.js';

export type ProgramSegment =
  /** Move the setpoint linearly to `to` °C over `minutes`. */
  | { kind: 'ramp'; to: number; minutes: number }
  /** Keep the setpoint where the last segment left it. */
  | { kind: 'hold'; minutes: number }
  /** Heater off for good: the furnace cools naturally. Ends a program. */
  | { kind: 'cool' };

/** The setpoint in °C, or `off` when the program has the heater off. */
export type ProgramSetpoint = number | 'off';

/** The usual demo firing, spec §18: to 1200 °C over 4 hours, hold 1 hour, cool. */
export const STANDARD_FIRING = 'ramp:1200:240,hold:60,cool';

export class FiringProgram {
  readonly segments: readonly ProgramSegment[];

  /** `start` is the setpoint the first ramp starts from (the furnace's ambient temperature). */
  constructor(
    segments: readonly ProgramSegment[],
    private readonly start: number,
  ) {
    this.segments = segments;
  }

  /** Simulated seconds the timed segments take (a final `cool` lasts for ever). */
  get durationSeconds(): number {
    return this.segments.reduce((sum, segment) => sum + (segment.kind === 'cool' ? 0 : segment.minutes * 60), 0);
  }

  /** Spec §18: after the last timed segment the program holds its last setpoint, unless it ended with `cool`. */
  setpointAt(seconds: number): ProgramSetpoint {
    let from = this.start;
    let elapsed = seconds;
    for (const segment of this.segments) {
      switch (segment.kind) {
        case 'cool':
          return 'off';
        case 'hold':
          if (elapsed < segment.minutes * 60) return from;
          elapsed -= segment.minutes * 60;
          break;
        case 'ramp': {
          const length = segment.minutes * 60;
          if (elapsed < length) return from + ((segment.to - from) * elapsed) / length;
          elapsed -= length;
          from = segment.to;
          break;
        }
      }
    }
    return from;
  }
}

const badProgram = (text: string, why: string) =>
  new HardwareError('HARDWARE_BAD_PROGRAM', `program ${JSON.stringify(text)}: ${why}; expected e.g. ${STANDARD_FIRING}`);

function number(text: string, raw: string | undefined, what: string, min: number, max: number): number {
  const value = Number(raw);
  if (raw === undefined || raw === '' || !Number.isFinite(value) || value < min || value > max) {
    throw badProgram(text, `${what} ${JSON.stringify(raw ?? '')} is not a number from ${min} to ${max}`);
  }
  return value;
}

/**
 * Parses spec §18's program text: `ramp:TO:MINUTES`, `hold:MINUTES` and a final `cool`, comma
 * separated; `standard` is STANDARD_FIRING.
 */
export function parseProgram(text: string): ProgramSegment[] {
  const source = text.trim() === 'standard' ? STANDARD_FIRING : text;
  const parts = source.split(',').map((part) => part.trim());
  return parts.map((part, index): ProgramSegment => {
    const [kind, a, b, ...rest] = part.split(':');
    const extra = (count: number) => {
      if ([a, b, ...rest].slice(count).some((field) => field !== undefined))
        throw badProgram(text, `too many fields in ${JSON.stringify(part)}`);
    };
    switch (kind ?? '') {
      case 'ramp':
        extra(2);
        return { kind: 'ramp', to: number(text, a, 'ramp target °C', 0, 1300), minutes: number(text, b, 'ramp minutes', 0.01, 100_000) };
      case 'hold':
        extra(1);
        return { kind: 'hold', minutes: number(text, a, 'hold minutes', 0.01, 100_000) };
      case 'cool':
        extra(0);
        if (index !== parts.length - 1) throw badProgram(text, 'cool must be the last segment');
        return { kind: 'cool' };
      default:
        throw badProgram(text, `unknown segment ${JSON.stringify(part)}`);
    }
  });
}
