// Tests that run our CLIs as separate processes run the compiled `dist/`: build it once
// before any test, so they always run the code under test and never a stale build.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

export function setup(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  // The dashboard's browser code, which the backend serves from dist/dashboard/.
  execFileSync(process.execPath, [tsc, '-p', 'backend/dashboard/tsconfig.json'], { stdio: 'inherit' });
}
