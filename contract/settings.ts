import { readFileSync } from 'node:fs';
import { type Static, type TObject, type TSchema, Type, TypeGuard } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ContractError } from './errors.js';
import { type RenamedSettings, type SettingsDeprecation, emitDeprecation, renameEnvVars, renameFileKeys } from './settings-renamed.js';

export type { RenamedSettings, SettingsDeprecation } from './settings-renamed.js';
export { maskSecrets } from './settings-mask.js';

// The settings loader every part uses (agent, broker, backend). It lives in contract/
// because that is the one folder all parts may import, and it shares the schema library
// with the payload validators. One schema per part gives defaults, descriptions, the
// environment variable names and the checks.

export interface SettingsSources {
  /** A YAML file; its keys mirror the schema. */
  file?: string | undefined;
  /** Environment variables; `FURNACE_AGENT` + `mqtt.url` reads `FURNACE_AGENT_MQTT_URL`. */
  env?: NodeJS.ProcessEnv;
  envPrefix: string;
  /** Values from command-line flags, by dotted key path; these win over everything. */
  overrides?: Record<string, string | number | boolean | undefined>;
  /** Keys that were renamed, old dotted path → new: the old name still works in the file and environment, with a warning. */
  renamed?: RenamedSettings;
  /** Each use of a renamed key's old name; by default a Node DeprecationWarning on stderr. */
  onDeprecated?: (deprecation: SettingsDeprecation) => void;
}

/** pino's levels, the same setting (`logLevel`) in every part. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LogLevelSetting = Type.Union(
  LOG_LEVELS.map((level) => Type.Literal(level)),
  {
    default: 'info',
    description: 'least important log level written: fatal, error, warn, info, debug (per-message detail), trace or silent',
  },
);

export class SettingsError extends ContractError {
  constructor(readonly problems: string[]) {
    super('CONTRACT_SETTINGS_INVALID', `invalid settings:\n  ${problems.join('\n  ')}`);
    this.name = 'SettingsError';
  }
}

/** `FURNACE_AGENT` + `['mqtt', 'batchIntervalMs']` → `FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS`. */
export function envName(prefix: string, path: readonly string[]): string {
  return [prefix, ...path.map((key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2'))].join('_').toUpperCase();
}

/** Every leaf key of an object schema, as a path, with its schema. */
function leaves(schema: TSchema, path: string[] = []): Array<{ path: string[]; schema: TSchema }> {
  if (!TypeGuard.IsObject(schema)) return [{ path, schema }];
  return Object.entries(schema.properties).flatMap(([key, child]) => leaves(child, [...path, key]));
}

/** Strings from env and flags become numbers and booleans where the schema says so; junk stays a string to be reported. */
function coerce(schema: TSchema, raw: string | number | boolean): unknown {
  if (typeof raw !== 'string') return raw;
  if ((TypeGuard.IsNumber(schema) || TypeGuard.IsInteger(schema)) && /^-?\d+(\.\d+)?$/.test(raw)) {
    return Number(raw);
  }
  if (TypeGuard.IsBoolean(schema) && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    // A file that put a scalar where a section belongs keeps it, so the check reports it instead of it vanishing.
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) return;
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function readFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SettingsError([`config file ${file}: ${(error as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new SettingsError([`config file ${file}: not valid YAML: ${(error as Error).message}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SettingsError([`config file ${file}: expected a mapping of settings at the top level`]);
  }
  return parsed as Record<string, unknown>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Merges file < environment < flags, fills defaults, checks everything against the schema
 * and returns frozen settings; or throws one `SettingsError` that lists every bad key with
 * its value, what is allowed, and where the value came from. Give every nested object
 * `default: {}`, so its leaves' defaults apply when the section is absent.
 */
export function loadSettings<S extends TObject>(schema: S, sources: SettingsSources): Readonly<Static<S>> {
  const merged: Record<string, unknown> = sources.file ? readFile(sources.file) : {};
  const origin = new Map<string, string>();
  const renamed = sources.renamed ?? {};
  const onDeprecated = sources.onDeprecated ?? emitDeprecation;
  if (sources.file !== undefined) {
    for (const { deprecation, movedTo } of renameFileKeys(merged, renamed, sources.file)) {
      if (movedTo) origin.set(`/${movedTo.join('/')}`, `file ${sources.file}, as ${deprecation.found}`);
      onDeprecated(deprecation);
    }
  }
  const env = renameEnvVars(sources.env ?? {}, renamed, (path) => envName(sources.envPrefix, path));
  env.deprecations.forEach((deprecation) => onDeprecated(deprecation));
  for (const leaf of leaves(schema)) {
    const name = envName(sources.envPrefix, leaf.path);
    const raw = env.env[name];
    if (raw !== undefined && raw !== '') {
      setPath(merged, leaf.path, coerce(leaf.schema, raw));
      origin.set(`/${leaf.path.join('/')}`, `environment ${env.cameFrom.get(name) ?? name}`);
    }
    const flag = sources.overrides?.[leaf.path.join('.')];
    if (flag !== undefined) {
      setPath(merged, leaf.path, coerce(leaf.schema, flag));
      origin.set(`/${leaf.path.join('/')}`, 'command line');
    }
  }
  const withDefaults = Value.Default(schema, merged);
  const checker = TypeCompiler.Compile(schema);
  if (!checker.Check(withDefaults)) {
    const problems = [...checker.Errors(withDefaults)].map((error) => {
      const key = error.path.slice(1).replaceAll('/', '.') || '(top level)';
      const from = origin.get(error.path) ?? (sources.file ? `file ${sources.file}` : 'defaults');
      const allowed = error.schema.description ? ` (${error.schema.description})` : '';
      const value = error.value === undefined ? 'missing' : JSON.stringify(error.value);
      return `${key} = ${value}: ${error.message}${allowed} [from ${from}]`;
    });
    throw new SettingsError(problems);
  }
  return deepFreeze(withDefaults);
}
