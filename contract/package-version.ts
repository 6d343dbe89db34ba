import { readFileSync } from 'node:fs';

/**
 * The package version (agents announce it, the API documents it), read from the package.json
 * above this file: one level up from the sources, two from `dist/contract/`.
 */
export function packageVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'furnace-telemetry' && pkg.version) return pkg.version;
    } catch {
      // not this level; try the next
    }
  }
  return 'unknown';
}
