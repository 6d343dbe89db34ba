// Tests that run our CLIs as separate processes run the compiled `dist/`: build it once
// before any test, so they always run the code under test and never a stale build. The same
// incremental build as `npm run build` (scripts/build.mjs): quick when nothing changed, and it
// removes the output of a deleted source, which a test could otherwise still import.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], { stdio: 'inherit' });
}
