// Shared by the codec tests: sample payloads and assertions on a decoding's outcome.
import { expect } from 'vitest';
import { REJECT_CAUSES, formatIssues, type Decoded, type RejectCause } from '../../contract/index.js';

export const DEVICE = 'furnace-1';

export type Json = Record<string, unknown>;

export function reading(overrides: Json = {}): Json {
  return {
    seq: 1042,
    ts: 1764340000123,
    sensor: 'tc1',
    value: 812.5,
    unit: 'C',
    quality: 'good',
    clock: 'synced',
    replay: false,
    ...overrides,
  };
}

export function batch(overrides: Json = {}): Json {
  return { v: 1, device: DEVICE, boot: '01JBOOT', readings: [reading()], ...overrides };
}

export function readings(count: number): Json[] {
  return Array.from({ length: count }, (_, i) => reading({ seq: i + 1, ts: 1764340000000 + i }));
}

export function without(object: Json, key: string): Json {
  const copy = { ...object };
  delete copy[key];
  return copy;
}

export const json = (value: unknown) => JSON.stringify(value);

/** Asserts a refusal with this cause and at least one issue at exactly this path. */
export function expectRejected<T>(result: Decoded<T>, cause: RejectCause, path: string): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.cause).toBe(cause);
  expect(REJECT_CAUSES).toContain(result.cause);
  expect(result.issues.length).toBeGreaterThan(0);
  expect(result.issues.map((issue) => issue.path)).toContain(path);
  for (const issue of result.issues) {
    expect(issue.path).toMatch(/^\//);
    expect(issue.message.length).toBeGreaterThan(0);
  }
}

export function expectAccepted<T>(result: Decoded<T>): T {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.cause}:\n${formatIssues(result.issues)}`);
  return result.value;
}
