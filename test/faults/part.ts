// One part of the stack as a process the fault suite can kill, pause and start again: each start
// runs the same command (same port, same data folder), as a supervisor would restart it.
import type { RunningProcess } from '../helpers/process.js';

export class Part {
  private proc: RunningProcess | undefined;
  private paused = false;

  constructor(
    readonly name: string,
    private readonly launch: () => Promise<RunningProcess>,
  ) {}

  /** Running: started, not killed, and not exited by itself (a crash). */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exit === undefined;
  }

  /** The current process, for its log lines and pid. */
  get process(): RunningProcess {
    if (!this.proc) throw new Error(`${this.name} was never started`);
    return this.proc;
  }

  /** Starts it and resolves once it says it is ready (the CLI's ready line or a probe). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.paused = false;
    this.proc = await this.launch();
  }

  /** SIGKILL: no goodbye, no flush, as a power cut or the OOM killer ends it. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exit) return;
    proc.child.kill('SIGKILL'); // also ends a stopped (SIGSTOP) process
    await proc.waitForExit(10_000);
    this.paused = false;
  }

  /** SIGSTOP: the process is frozen, its sockets stay open and unanswered. */
  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** For teardown: nothing here needs a graceful stop, every folder is thrown away. */
  async dispose(): Promise<void> {
    if (this.paused) this.signal('SIGCONT');
    await this.kill();
  }

  /** How the last process ended, with its last error line: for the table's notes. */
  crashCause(): string {
    const exit = this.proc?.exit;
    if (!exit) return 'still running';
    const lines = this.proc?.lines ?? [];
    const error = [...lines].reverse().find((line) => /Error\b|"level":(50|60)/.test(line));
    return `exit code ${String(exit.code)}, signal ${String(exit.signal)}${error ? `: ${error.trim().slice(0, 120)}` : ''}`;
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.running) throw new Error(`${this.name} is not running (cannot send ${signal})`);
    this.process.child.kill(signal);
  }
}
