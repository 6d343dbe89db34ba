import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRulesText, prepareRulesFile, readRulesFile, rulesOf } from './rule-source.js';

const HOT = { id: 'hot', kind: 'threshold', match: { device: 'f-*' }, severity: 'critical', above: 100 };

describe('rule sources', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rule-source-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a YAML list, a map with rules:, or an empty file (no rules)', () => {
    expect(parseRulesText('- { id: hot, kind: threshold, match: { device: f-1 }, severity: info, above: 1 }')).toMatchObject({ ok: true });
    expect(parseRulesText('rules:\n  - { id: hot, kind: offline, match: { device: f-1 }, severity: info }')).toMatchObject({
      ok: true,
      rules: [{ id: 'hot', kind: 'offline' }],
    });
    expect(parseRulesText('')).toEqual({ ok: true, rules: [] });
  });

  it('names the file, the rule and the field of every problem', () => {
    const path = join(dir, 'rules.yaml');
    writeFileSync(path, 'rules:\n  - { id: hot, kind: threshold, match: { device: f-1 }, severity: loud, above: 1 }\nextra: 1\n');
    expect(readRulesFile(path)).toEqual({ ok: false, problems: [`${path}: extra: unknown key (expected only rules)`] });
    writeFileSync(path, '- { id: hot, kind: threshold, match: { device: f-1 }, severity: loud, above: 1 }\n');
    expect(readRulesFile(path)).toEqual({
      ok: false,
      problems: [`${path}: rules[0].severity (rule hot): expected one of critical, warning, info`],
    });
    writeFileSync(path, '- [unclosed\n');
    expect(readRulesFile(path)).toMatchObject({ ok: false, problems: [expect.stringMatching(/rules\.yaml: not valid YAML/)] });
    expect(readRulesFile(join(dir, 'missing.yaml'))).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/missing\.yaml: cannot read it/)],
    });
  });

  it('takes inline rules unless a rules file is set, and says where they came from', () => {
    const settings = { rules: [HOT], checkIntervalMs: 1000, mqtt: true, webhooks: [], retryMinMs: 1000, retryMaxMs: 60_000 };
    expect(rulesOf(settings, 'backend.yaml')).toMatchObject({
      ok: true,
      set: { source: 'alerts.rules in backend.yaml', rules: [{ id: 'hot' }] },
    });
    const path = join(dir, 'rules.yaml');
    writeFileSync(path, '[]\n');
    expect(rulesOf({ ...settings, rulesFile: path }, 'backend.yaml')).toEqual({ ok: true, set: { source: path, rules: [] } });
  });

  it('rewrites a rules file whole (written beside it, then renamed) and reads it back the same', () => {
    const path = join(dir, 'rules.yaml');
    writeFileSync(path, '[]\n');
    const parsed = parseRulesText(JSON.stringify([HOT]));
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    prepareRulesFile(path, parsed.rules, 'ops').commit();
    expect(readFileSync(path, 'utf8')).toMatch(/^# Alert rules, written by PUT \/api\/v1\/rules \(ops\)/);
    expect(readRulesFile(path)).toEqual({ ok: true, set: { source: path, rules: parsed.rules } });
    expect(readdirSync(dir)).toEqual(['rules.yaml']);
  });
});
