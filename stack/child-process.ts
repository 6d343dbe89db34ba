import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { STACK_CHILD_ENV } from '../contract/stop-signals.js';

export interface StackChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves with the first output line matching `pattern`; rejects if the child exits first or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(timeoutMs?: number): Promise<void>;
}

/** Runs one part of the stack as a child process, its output lines handed to `onLine`. */
export function startChild(
  name: string,
  script: string,
  args: string[],
  onLine: (line: string) => void,
  env: NodeJS.ProcessEnv = {},
): StackChild {
  // Marked as the stack's: Ctrl-C is left to the stack, which stops the parts in order (contract/stop-signals.ts).
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, [STACK_CHILD_ENV]: '1' },
  });
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const handle = (line: string) => {
    onLine(line);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', handle);
  createInterface({ input: child.stderr }).on('line', handle);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    name,
    process: child,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} was not ready within ${timeoutMs} ms`)), timeoutMs);
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.push(waiter);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited with code ${code} before it was ready`));
        });
      });
    },
    // Each part bounds its own stop (the agent's flush, the broker's grace); this is the last resort.
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
