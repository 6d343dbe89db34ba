import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRulesText } from '../backend/alerts/rules/rule-source.js';
import type { OfflineRule, ThresholdRule } from '../backend/alerts/rules/rule-schema.js';
import { LineEmulator, parseScenario } from '../hardware/index.js';
import { EngineHarness } from '../test/helpers/alert-engine-fixtures.js';
import { DEMO_CYCLES, DEMO_CYCLE_MINUTES, DEMO_RULES_SOURCE, DEMO_SETPOINT_C, demoScenario, ensureDemoRules } from './demo-rules.js';

/** Readings of the demo furnace as npm start runs it: one line a second at speed 60, seed 1. */
function demoReadings(seconds: number): number[] {
  const values: number[] = [];
  const emulator = new LineEmulator({
    seed: 1,
    intervalMs: 1000,
    speed: 60,
    setpoint: DEMO_SETPOINT_C,
    scenario: parseScenario(demoScenario()),
    write: (line) => values.push(Number(/^T=([-\d.]+)/.exec(line.toString())?.[1])),
  });
  for (let i = 0; i < seconds; i++) emulator.tick();
  return values;
}

/** Episodes of the threshold rule with hysteresis: [second it went above, second it fell under clearAbove]. */
function episodes(values: number[], above: number, clearAbove: number): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  let start: number | undefined;
  values.forEach((value, i) => {
    const second = i + 1; // the first line goes out one interval after the start
    if (start === undefined && value > above) start = second;
    else if (start !== undefined && value < clearAbove) {
      found.push([start, second]);
      start = undefined;
    }
  });
  return found;
}

describe('the demo alert rules and furnace', () => {
  const parsed = parseRulesText(readFileSync(DEMO_RULES_SOURCE, 'utf8'));

  it('ships a valid rule set with overheat, stale, offline and sensor rules for furnace-1', () => {
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    if (!parsed.ok) return;
    expect(parsed.rules.map((rule) => rule.kind).sort()).toEqual(['offline', 'sensor', 'stale', 'threshold']);
    for (const rule of parsed.rules) expect(rule.match.device).toBe('furnace-1');
  });

  it('overshoots the overheat limit once per cycle: firing within a minute, resolved within two', () => {
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const overheat = parsed.rules.find((rule): rule is ThresholdRule => rule.id === 'overheat');
    const above = overheat?.above ?? Number.NaN;
    const clearAbove = overheat?.clearAbove ?? above;
    const holdMs = overheat?.for ?? 0;
    const cycleSeconds = DEMO_CYCLE_MINUTES; // a simulated minute is a second at speed 60
    const found = episodes(demoReadings(3 * cycleSeconds), above, clearAbove);
    expect(found).toHaveLength(3);
    const [first] = found;
    expect(first?.[0]).toBeLessThanOrEqual(60 - holdMs / 1000 - 5); // fires before a minute, with room for delivery
    expect(first?.[1]).toBeLessThanOrEqual(100);
    found.forEach(([start, end], k) => {
      expect(end - start).toBeGreaterThan(holdMs / 1000 + 5); // long enough for `for`, with margin
      expect(Math.floor(start / cycleSeconds)).toBe(k);
    });
  });

  it('pages for an agent that is gone, not for a broker restart', () => {
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const offline = parsed.rules.find((rule): rule is OfflineRule => rule.kind === 'offline');
    if (offline === undefined) throw new Error('no offline rule');
    const h = new EngineHarness([offline]);
    try {
      const status = (state: 'online' | 'offline', at: number, ts: number) => h.engine.status('furnace-1', state, at, { ts, boot: 'b1' });
      const tickUntil = (from: number, to: number) => {
        for (let t = from; t <= to; t += 1000) h.engine.tick(t);
      };
      status('online', 1050, 1050); // connected at 1000
      // The broker restarts: it sends the will (the time the agent connected) as it goes down, then
      // drops the backend; both are back within seconds, the agent on its first retry.
      status('offline', 60_000, 1000);
      h.engine.brokerDisconnected(60_010);
      tickUntil(60_000, 63_000);
      h.engine.brokerConnected(63_000);
      tickUntil(63_000, 64_000);
      status('online', 64_100, 64_050);
      tickUntil(64_000, 200_000);
      expect(h.path().filter((step) => step.endsWith('→firing'))).toEqual([]);
      // kill -9 of the agent: the broker sends the will of its current connection, and nothing follows.
      status('offline', 300_000, 64_000);
      tickUntil(300_000, 300_000 + offline.for - 1000);
      expect(h.path().filter((step) => step.endsWith('→firing'))).toEqual([]);
      h.engine.tick(300_000 + offline.for);
      expect(h.path().filter((step) => step.endsWith('→firing'))).toEqual([`${offline.id}:pending→firing`]);
    } finally {
      h.close();
    }
  });

  it('repeats for DEMO_CYCLES cycles', () => {
    expect(parseScenario(demoScenario())).toHaveLength(DEMO_CYCLES);
  });
});

describe('ensureDemoRules', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'demo-rules-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('copies the demo rules into the data folder the first time only', () => {
    const first = ensureDemoRules(dir);
    expect(first).toEqual({ path: join(dir, 'backend', 'rules.yaml'), created: true });
    expect(readFileSync(first.path, 'utf8')).toBe(readFileSync(DEMO_RULES_SOURCE, 'utf8'));
    writeFileSync(first.path, '[]\n');
    expect(ensureDemoRules(dir)).toEqual({ path: first.path, created: false });
    expect(readFileSync(first.path, 'utf8')).toBe('[]\n');
  });
});
