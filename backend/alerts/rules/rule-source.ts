import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { BackendConfig } from '../../config.js';
import { type ParsedRules, type Rule, parseRules } from './rule-schema.js';

// Where the rules come from: inline in the backend config (`alerts.rules`) or a file of their
// own (`alerts.rulesFile`). A file can be rewritten by PUT /api/v1/rules; inline rules change
// only by editing the config and sending SIGHUP, so the file an operator edits is never
// rewritten under them.

export interface RuleSet {
  rules: readonly Rule[];
  /** Where they came from, for logs and GET /api/v1/rules. */
  source: string;
}

export type LoadedRules = { ok: true; set: RuleSet } | { ok: false; problems: string[] };

/** The rules of a YAML text: a list of rules, or a map with a `rules:` list. */
export function parseRulesText(text: string): ParsedRules {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    return { ok: false, problems: [`not valid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`] };
  }
  return parseRulesDocument(document);
}

/** A parsed body or file: a list, a map with `rules:`, or nothing at all (no rules). */
export function parseRulesDocument(document: unknown): ParsedRules {
  if (document === null || document === undefined) return parseRules([]);
  if (typeof document === 'object' && !Array.isArray(document) && 'rules' in document) {
    const extra = Object.keys(document).filter((key) => key !== 'rules');
    if (extra.length > 0) return { ok: false, problems: extra.map((key) => `${key}: unknown key (expected only rules)`) };
    return parseRules(document.rules);
  }
  return parseRules(document);
}

export function readRulesFile(path: string): LoadedRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { ok: false, problems: [`alerts.rulesFile ${path}: cannot read it: ${(error as Error).message}`] };
  }
  const parsed = parseRulesText(text);
  if (!parsed.ok) return { ok: false, problems: parsed.problems.map((problem) => `${path}: ${problem}`) };
  return { ok: true, set: { rules: parsed.rules, source: path } };
}

/** The rules the settings point to. Inline rules were checked with the settings already. */
export function rulesOf(alerts: BackendConfig['alerts'], configFile: string | undefined): LoadedRules {
  if (alerts.rulesFile !== undefined) return readRulesFile(alerts.rulesFile);
  const parsed = parseRules(alerts.rules);
  if (!parsed.ok) return { ok: false, problems: parsed.problems.map((problem) => `alerts.${problem}`) };
  return { ok: true, set: { rules: parsed.rules, source: configFile === undefined ? 'alerts.rules' : `alerts.rules in ${configFile}` } };
}

/**
 * Replaces a rules file so that a crash leaves the old file or the new one, never half of one:
 * the new text is written beside it and flushed; `commit` renames it over the old file,
 * `discard` removes it.
 */
export function prepareRulesFile(path: string, rules: readonly Rule[], by: string): { commit(): void; discard(): void } {
  const header = `# Alert rules, written by PUT /api/v1/rules (${by}) at ${new Date().toISOString()}.\n`;
  const temporary = `${path}.${process.pid}.tmp`;
  const discard = () => rmSync(temporary, { force: true });
  try {
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, header + toYaml(rules.map((rule) => ({ ...rule }))));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    discard();
    throw error;
  }
  return { commit: () => renameSync(temporary, path), discard };
}
