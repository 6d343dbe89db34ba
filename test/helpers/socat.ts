// A pair of connected pseudo-terminals, standing in for a serial cable: bytes written to `a`
// come out of `b` and vice versa, so serial code can be tested without hardware.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from './process.js';
import { startTempDaemon } from './temp-daemon.js';

export interface PtyPair {
  /** Path of one end (a symlink to /dev/pts/N). */
  a: string;
  /** Path of the other end. */
  b: string;
  pid: number;
  dir: string;
  /** Kills socat and removes the temp folder (a given `dir` is left, minus the links). */
  stop: () => Promise<void>;
}

/** Starts socat linking two raw, non-echoing ptys at `<dir>/a` and `<dir>/b`. */
export async function startPtyPair(dir?: string): Promise<PtyPair> {
  let a = '';
  let b = '';
  const daemon = await startTempDaemon({
    prefix: 'socat-',
    dir,
    launch: (folder) => {
      a = join(folder, 'a');
      b = join(folder, 'b');
      // raw,echo=0: bytes pass through unchanged (no line editing, no echo back to the writer).
      return startProcess('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
        cwd: folder,
      });
    },
    // socat creates the links just before entering its transfer loop.
    ready: () => existsSync(a) && existsSync(b),
    what: 'socat pty links',
  });
  return { a, b, pid: daemon.pid, dir: daemon.dir, stop: daemon.stop };
}
