// Renamed settings: a key that got a new name keeps working under its old one, in the config
// file and as an environment variable, with a warning that names the new key. A plant
// engineer's config file must not stop the agent on upgrade; it should say what to change.

/** One use of a deprecated key name: which, where, and the key (or variable) to use instead. */
export interface SettingsDeprecation {
  /** The old name as it was found: a dotted key path, or an environment variable name. */
  found: string;
  /** The new name to use in its place, in the same form. */
  use: string;
  /** `file FILE` or `environment`. */
  source: string;
  /** One line for the log, naming both. */
  message: string;
}

/** Old dotted key path → new dotted key path. */
export type RenamedSettings = Readonly<Record<string, string>>;

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parentOf(tree: Tree, path: readonly string[], create: boolean): Tree | undefined {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined && create) node[key] = {};
    const next = node[key];
    if (!isTree(next)) return undefined;
    node = next;
  }
  return node;
}

/**
 * Moves each renamed key found in the file's settings to its new path (the new one wins when
 * both are set); returns the deprecations, and where each value went (for error messages).
 */
export function renameFileKeys(
  tree: Tree,
  renamed: RenamedSettings,
  file: string,
): Array<{ deprecation: SettingsDeprecation; movedTo?: string[] }> {
  const found: Array<{ deprecation: SettingsDeprecation; movedTo?: string[] }> = [];
  for (const [from, to] of Object.entries(renamed)) {
    const fromPath = from.split('.');
    const toPath = to.split('.');
    const oldParent = parentOf(tree, fromPath, false);
    const oldKey = fromPath[fromPath.length - 1] as string;
    if (oldParent === undefined || !(oldKey in oldParent)) continue;
    const value = oldParent[oldKey];
    delete oldParent[oldKey];
    const newParent = parentOf(tree, toPath, true);
    const newKey = toPath[toPath.length - 1] as string;
    const both = newParent !== undefined && newParent[newKey] !== undefined;
    if (newParent !== undefined && !both) newParent[newKey] = value;
    const message = both
      ? `${from} in ${file} is deprecated and ignored: ${to} is set too and wins; remove ${from}`
      : `${from} in ${file} is deprecated: rename it to ${to} (the old name still works for now)`;
    found.push({ deprecation: { found: from, use: to, source: `file ${file}`, message }, ...(both ? {} : { movedTo: toPath }) });
  }
  return found;
}

/**
 * A copy of `env` in which each set variable of a renamed key stands under its new name (the
 * new variable wins when both are set), with the deprecations and, by new variable name, the
 * old one it came from.
 */
export function renameEnvVars(
  env: NodeJS.ProcessEnv,
  renamed: RenamedSettings,
  envNameOf: (path: readonly string[]) => string,
): { env: NodeJS.ProcessEnv; deprecations: SettingsDeprecation[]; cameFrom: Map<string, string> } {
  const copy = { ...env };
  const deprecations: SettingsDeprecation[] = [];
  const cameFrom = new Map<string, string>();
  for (const [from, to] of Object.entries(renamed)) {
    const oldName = envNameOf(from.split('.'));
    const newName = envNameOf(to.split('.'));
    const raw = env[oldName];
    if (raw === undefined || raw === '') continue;
    const both = env[newName] !== undefined && env[newName] !== '';
    if (!both) {
      copy[newName] = raw;
      cameFrom.set(newName, oldName);
    }
    const message = both
      ? `environment variable ${oldName} is deprecated and ignored: ${newName} is set too and wins; unset ${oldName}`
      : `environment variable ${oldName} is deprecated: rename it to ${newName} (setting ${to}; the old name still works for now)`;
    deprecations.push({ found: oldName, use: newName, source: 'environment', message });
  }
  return { env: copy, deprecations, cameFrom };
}

/** Where a deprecation goes when the caller has no logger yet: Node's own warning channel (stderr). */
export function emitDeprecation(deprecation: SettingsDeprecation): void {
  process.emitWarning(deprecation.message, { type: 'DeprecationWarning', code: 'FURNACE_SETTING_RENAMED' });
}
