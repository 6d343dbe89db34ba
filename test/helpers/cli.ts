// Our own command-line programs, run as separate processes from the compiled dist/ (built
// by test/global-setup.ts), exactly as `npx furnace-agent ...` runs them.
import { basename, join, resolve } from 'node:path';
import { type RunningProcess, startProcess } from './process.js';

// Two levels up is the checkout when run from the sources (tests), or dist/ itself when
// compiled (bench/ runs from dist/).
const twoUp = resolve(import.meta.dirname, '..', '..');
export const DIST_DIR = basename(twoUp) === 'dist' ? twoUp : join(twoUp, 'dist');

export type Cli = 'agent' | 'broker' | 'backend' | 'emulator';
const scripts: Record<Cli, string> = {
  agent: 'agent/cli.js',
  broker: 'broker/cli.js',
  backend: 'backend/cli.js',
  emulator: 'hardware/cli.js',
};
/** The log line each CLI prints once it is ready to work. */
const readyLines: Record<Cli, RegExp> = {
  agent: /agent started/,
  broker: /MQTT listener ready/,
  backend: /HTTP API ready/,
  emulator: /emulator ready/,
};

/** `nodeArgs`: flags for node itself, before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
export function startCli(cli: Cli, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: readonly string[] = []): Promise<RunningProcess> {
  return startProcess(process.execPath, [...nodeArgs, join(DIST_DIR, scripts[cli]), ...args], {
    env: { ...process.env, ...env },
    readyLine: readyLines[cli],
    readyTimeoutMs: 20_000,
  });
}

/** Runs `dist/stack/start.js` (what `npm start` runs) without waiting for anything. */
export function startStack(args: string[], options: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Promise<RunningProcess> {
  return startProcess(process.execPath, [join(DIST_DIR, 'stack', 'start.js'), ...args], {
    env: { ...process.env, ...options.env },
    detached: options.detached ?? false,
  });
}
