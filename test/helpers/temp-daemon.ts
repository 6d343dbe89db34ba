// Shared start-up shape of the program helpers: a temp folder, a process, a readiness probe,
// and one stop() that always removes both, also when start-up fails half way.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningProcess } from './process.js';
import { waitFor } from './wait-for.js';

export interface TempDaemon {
  proc: RunningProcess;
  pid: number;
  /** The temp folder holding config and data. */
  dir: string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes `dir`. Idempotent. */
  stop: () => Promise<void>;
}

export interface TempDaemonOptions {
  /** Temp folder name prefix, e.g. 'mosquitto-'. */
  prefix: string;
  /** Use this folder instead of a fresh one; it is then left in place by stop(). */
  dir?: string;
  /** Writes any config into `dir` and starts the process. */
  launch: (dir: string) => Promise<RunningProcess>;
  /** Readiness probe, polled until it returns true (see waitFor). */
  ready: (proc: RunningProcess) => boolean | Promise<boolean>;
  /** Used in the timeout message, e.g. 'mosquitto on port 1234'. */
  what: string;
  readyTimeoutMs?: number;
}

export async function startTempDaemon(options: TempDaemonOptions): Promise<TempDaemon> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `test-${options.prefix}`)));
  let proc: RunningProcess | undefined;
  const stop = async () => {
    await proc?.stop();
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    const started = (proc = await options.launch(dir));
    await waitFor(
      async () => {
        started.assertRunning(); // fail fast, with its output, instead of waiting for the deadline
        return await options.ready(started);
      },
      { timeoutMs: options.readyTimeoutMs ?? 15_000, what: options.what },
    ).catch((error: Error) => {
      throw started.exit ? error : started.error(error.message);
    });
    return { proc: started, pid: started.pid, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
