// Finding processes by their command line (Linux /proc): how tests check that nothing of
// theirs is left running, and find a child's helper (socat) to kill it.
import { readFileSync, readdirSync } from 'node:fs';

/** Pids of every process but this one whose command line contains one of `needles`. */
export function pidsMentioning(needles: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (needles.some((needle) => cmdline.includes(needle))) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
