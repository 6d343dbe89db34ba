// Child processes for tests: spawn, keep recent output for error messages, wait for a readiness
// line with a deadline, stop with SIGTERM then SIGKILL. All are tracked for stopAllProcesses().
import { spawn, type ChildProcess } from 'node:child_process';
import { findProgram } from './find-program.js';

const MAX_LINES = 200; // bounded: a chatty daemon must not grow test memory without limit
const running = new Set<RunningProcess>();

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** When given, startProcess resolves only after a stdout/stderr line matches it. */
  readyLine?: RegExp;
  /** Deadline for `readyLine` (default 10 s). */
  readyTimeoutMs?: number;
  /** In a process group of its own, which a test can signal as a terminal does (`process.kill(-pid, ...)`). */
  detached?: boolean;
}

export class RunningProcess {
  /** The last lines of stdout and stderr, interleaved as they arrived (bounded). */
  readonly lines: string[] = [];
  /** Set once the process has exited and its output is drained. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly listeners = new Set<(line: string) => void>();
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    // 'close', not 'exit': output is drained by then, so errors show the last words ("Address in use").
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        resolve();
      });
    });
    // Without a listener, a late 'error' (e.g. a failed kill) would crash the test worker.
    child.on('error', (error) => this.addLine(`[${name}: ${error.message}]`));
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        parts.forEach((line) => this.addLine(line));
      });
      stream?.on('end', () => partial !== '' && this.addLine(partial));
    }
  }

  get pid(): number {
    return this.child.pid ?? -1; // only undefined before 'spawn', which startProcess awaits
  }

  output(count = 20): string {
    return this.lines.slice(-count).join('\n');
  }

  /** An Error whose message ends with the recent output, which usually says what went wrong. */
  error(message: string): Error {
    const output = this.lines.length > 0 ? `\n--- last output ---\n${this.output()}` : ' (no output)';
    return new Error(`${this.name}: ${message}${output}`);
  }

  /** Throws (with output) if the process has exited: readiness probes call this to fail fast. */
  assertRunning(): void {
    if (this.exit) throw this.error(`exited early (code ${this.exit.code}, signal ${this.exit.signal})`);
  }

  /** Resolves with the first line (already seen or upcoming) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const finish = (error: Error | undefined, line = '') => {
        clearTimeout(timer);
        this.listeners.delete(onLine);
        return error ? reject(error) : resolve(line);
      };
      const onLine = (line: string) => {
        if (pattern.test(line)) finish(undefined, line);
      };
      const timer = setTimeout(() => finish(this.error(`no line matching ${pattern} after ${timeoutMs} ms`)), timeoutMs);
      this.listeners.add(onLine);
      void this.exited.then(() => finish(this.error(`exited before printing a line matching ${pattern}`)));
    });
  }

  /** Resolves with how the process ended; rejects (with its output) if it is still running after `timeoutMs`. */
  async waitForExit(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!(await this.exitsWithin(timeoutMs)) || !this.exit) throw this.error(`still running after ${timeoutMs} ms`);
    return this.exit;
  }

  /** SIGTERM, wait up to `graceMs` for exit, then SIGKILL. Idempotent. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exit) return;
    this.child.kill('SIGTERM');
    if (await this.exitsWithin(graceMs)) return;
    this.child.kill('SIGKILL');
    if (!(await this.exitsWithin(5000))) throw this.error('still running after SIGKILL');
  }

  private exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
    return Promise.race([this.exited.then(() => true), timeout]).finally(() => clearTimeout(timer));
  }

  private addLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.shift();
    this.listeners.forEach((listener) => listener(line));
  }
}

/**
 * Spawns `cmd` (looked up like findProgram, so /usr/sbin daemons work without it on PATH)
 * and resolves once it is running and, if `readyLine` is set, has printed a matching line.
 */
export async function startProcess(cmd: string, args: string[], options: StartOptions = {}): Promise<RunningProcess> {
  const child = spawn(findProgram(cmd) ?? cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const proc = new RunningProcess(cmd.split('/').pop() ?? cmd, child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(proc.error(`could not start: ${error.message}`)));
  });
  if (!proc.exit) running.add(proc);
  try {
    if (options.readyLine) await proc.waitForLine(options.readyLine, options.readyTimeoutMs);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return proc;
}

/** Stops every process started by startProcess that is still running. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((proc) => proc.stop()));
}

// Last resort if a test forgot stopAllProcesses(). Vitest ends fork workers with SIGTERM, which
// skips 'exit' handlers: catch it too, then re-raise it so the worker still dies.
const killAll = () => running.forEach((proc) => proc.child.kill('SIGKILL'));
process.once('exit', killAll);
process.once('SIGTERM', () => {
  killAll();
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
});
