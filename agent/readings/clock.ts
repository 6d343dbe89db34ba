import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClockState } from '../../contract/index.js';

// systemd-timesyncd creates this file once it has synchronised the clock (systemd-timesyncd.service(8)).
const TIMESYNCD_FLAG = '/run/systemd/timesync/synchronized';
/** No reading of this code can be older than its release; a clock before that is certainly wrong. */
const RELEASED = Date.UTC(2026, 10, 1);
const REFRESH_MS = 60_000;

/** When this file was built (installed): a clock earlier than that is never trusted. */
function buildTime(): number {
  try {
    return Math.max(RELEASED, statSync(fileURLToPath(import.meta.url)).mtimeMs);
  } catch {
    return RELEASED;
  }
}

export type ClockProbe = () => Promise<boolean | undefined>;

/** timesyncd's flag file: `true` if present, `undefined` (unknown) if timesyncd is not in use. */
export const timesyncdProbe: ClockProbe = () => Promise.resolve(existsSync(TIMESYNCD_FLAG) ? true : undefined);

/** chrony's `tracking` report: "Leap status : Normal" once synchronised; `undefined` without chrony. */
export const chronyProbe: ClockProbe = () =>
  new Promise((resolve) => {
    execFile('chronyc', ['-n', 'tracking'], { timeout: 2000 }, (error, stdout) => {
      if (error) return resolve(undefined);
      const leap = /Leap status\s*:\s*(.+)/.exec(stdout)?.[1]?.trim();
      resolve(leap === undefined ? undefined : leap === 'Normal');
    });
  });

/**
 * Whether the system clock is known to be synchronised, asked of the time daemons now and
 * then (never per reading) and cached. Unknown counts as unsynced: the backend then knows
 * not to trust the timestamps blindly.
 */
export class ClockMonitor {
  private synced = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly notBefore = buildTime();

  constructor(
    private readonly probes: ClockProbe[] = [timesyncdProbe, chronyProbe],
    private readonly now: () => number = Date.now,
  ) {}

  /** Probes once now, then every minute until `stop()`. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  state(): ClockState {
    return this.synced && this.now() >= this.notBefore ? 'synced' : 'unsynced';
  }

  async refresh(): Promise<void> {
    for (const probe of this.probes) {
      const answer = await probe();
      if (answer !== undefined) {
        this.synced = answer;
        return;
      }
    }
    this.synced = false;
  }
}
