// A small tmpfs for a test that needs a disk that fills up (ENOSPC), without filling the real one.
// Root mounts it directly (mount -t tmpfs); another user through `sudo -n` (CI runners allow it
// without a password). Where neither works (a container without CAP_SYS_ADMIN, a laptop without
// sudo rights) tmpfsUnavailable() says why, and the test skips locally or fails on CI.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const asRoot = process.getuid?.() === 0;

function privileged(command: string, args: string[]): void {
  const [file, argv] = asRoot ? [command, args] : ['sudo', ['-n', command, ...args]];
  execFileSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Mounts a tmpfs of `sizeBytes` on `dir` (which must exist), owned by this user. Returns the unmount. */
export function mountTmpfs(dir: string, sizeBytes: number): () => void {
  const options = `size=${sizeBytes},mode=0700,uid=${process.getuid?.() ?? 0},gid=${process.getgid?.() ?? 0}`;
  privileged('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  let mounted = true;
  return () => {
    if (!mounted) return;
    try {
      privileged('umount', [dir]);
    } catch {
      privileged('umount', ['-l', dir]); // still busy (a process that would not die): detach it
    }
    mounted = false;
  };
}

/** Why no tmpfs can be mounted here, or undefined when it can (tried once, on a scratch folder). */
export function tmpfsUnavailable(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'test-tmpfs-probe-'));
  try {
    mountTmpfs(dir, 64 * 1024)();
    return undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim();
    return `cannot mount a tmpfs here (run as root, or as a user with passwordless sudo for mount): ${stderr}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Takes every free byte of the file system holding `dir` with one file; returns how to give them
 * back. Written in chunks until ENOSPC (the last write is cut short at the last free page).
 */
export function fillDisk(dir: string): { bytes: number; free: () => void } {
  const file = join(dir, 'disk-filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let bytes = 0;
  try {
    for (;;) {
      const written = writeSync(fd, chunk);
      if (written === 0) break;
      bytes += written;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return { bytes, free: () => rmSync(file, { force: true }) };
}
