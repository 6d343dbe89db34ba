import type { ClockState } from '../../contract/index.js';
import { type CommandHandler, ok } from './handler.js';

export interface PingSources {
  device: string;
  boot: string;
  agentVersion: string;
  startedAt: number;
  clock: () => ClockState;
}

/** ping: who answers (device, boot, version), for how long, and whether its clock (and so its deadline checks) can be trusted. */
export function pingHandler(
  { device, boot, agentVersion, startedAt, clock }: PingSources,
  now: () => number = Date.now,
): CommandHandler<'ping'> {
  return () => ok({ device, boot, uptimeMs: Math.max(0, now() - startedAt), agentVersion, clock: clock() });
}
