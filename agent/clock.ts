import { existsSync } from 'node:fs';
import type { ClockState } from '../contract/index.js';

// systemd-timesyncd creates this file once it has synchronised the clock
// (see systemd-timesyncd.service(8)); the agent issue adds chrony and the build-date floor.
const TIMESYNCD_FLAG = '/run/systemd/timesync/synchronized';

/** Whether the system clock is known to be synchronised; unknown counts as unsynced. */
export function clockState(): ClockState {
  return existsSync(TIMESYNCD_FLAG) ? 'synced' : 'unsynced';
}
