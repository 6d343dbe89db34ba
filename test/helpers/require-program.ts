// Tests that need an external program (mosquitto, redis-server, ...) must say clearly what
// to install when it is missing. On a developer laptop they skip with that message; on CI
// (CI=true) a missing program is a broken image, so they fail instead of silently skipping.
//
// Usage, at the top level of a test file:
//   const mosquitto = requireProgram('mosquitto', 'mosquitto'); // throws on CI if missing
//   describe.skipIf(mosquitto.skip)('broker', () => { ... });
// or, with the failure reported per describe instead of for the whole file:
//   describeWithProgram('mosquitto', 'mosquitto', 'broker', () => { ... });
import { describe, it } from 'vitest';
import { findProgram, missingProgramMessage } from './find-program.js';

export { findProgram, missingProgramMessage };

/** Found: `path` is set. Missing: `skip` holds the message (usable as a skipIf condition). */
export type ProgramCheck = { path: string; skip?: undefined } | { path?: undefined; skip: string };

/**
 * Looks `name` up. Returns `{ path }` when found. When missing: throws on CI
 * (`process.env.CI === 'true'`), otherwise warns on the console and returns `{ skip }`.
 */
export function requireProgram(name: string, debianPackage: string): ProgramCheck {
  const path = findProgram(name);
  if (path !== undefined) return { path };
  const message = missingProgramMessage(name, debianPackage);
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`skipping: ${message}`);
  return { skip: message };
}

/**
 * `describe(title, body)` that needs `name`. Missing on a laptop: the describe is skipped,
 * with the install hint in its title. Missing on CI: it holds one failing test with the hint,
 * so the rest of the file still runs. `body` receives the program's absolute path.
 */
export function describeWithProgram(name: string, debianPackage: string, title: string, body: (programPath: string) => void): void {
  let check: ProgramCheck;
  try {
    check = requireProgram(name, debianPackage);
  } catch (error) {
    describe(title, () => {
      it(`requires ${name}`, () => {
        throw error;
      });
    });
    return;
  }
  if (check.path !== undefined) {
    const { path } = check;
    describe(title, () => body(path));
  } else {
    // The body is not run: its tests would only show up as skipped without saying why.
    const reason = check.skip;
    describe.skip(`${title} (${reason})`, () => {
      it(`requires ${name}`, () => undefined);
    });
  }
}
