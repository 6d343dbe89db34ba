// Finding external programs, without vitest, so that bench/ can start them too.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// Debian installs daemons such as mosquitto in /usr/sbin, which is not on a normal user's PATH.
const EXTRA_DIRS = ['/usr/sbin', '/sbin'];

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of `name` found on PATH, /usr/sbin or /sbin; `undefined` when absent. */
export function findProgram(name: string): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? name : undefined;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of [...dirs, ...EXTRA_DIRS]) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The message shown (or thrown on CI) when `name` is missing. */
export function missingProgramMessage(name: string, debianPackage: string): string {
  return `${name} not found: install the Debian package ${debianPackage} (apt-get install ${debianPackage})`;
}
