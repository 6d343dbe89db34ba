// The line sensor's protocol, as hardware/README.md specifies it (spec §3 to §6).
import type { SensorFault, SensorSample } from './furnace.js';

export type { SensorFault };

export interface LineFormatOptions {
  /** Append `*HH` (spec §6). */
  checksum?: boolean;
  /** Append a wrong checksum instead: the crc-errors fault (spec §19.3). */
  corruptChecksum?: boolean;
}

/** Spec §3.2: one decimal, and never `-0.0`. */
function decimal(celsius: number): string {
  const text = celsius.toFixed(1);
  return text === '-0.0' ? '0.0' : text;
}

/** Spec §6: the XOR of every byte before `*`, as two upper-case hexadecimal digits. */
export function lineChecksum(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) sum ^= payload.charCodeAt(i) & 0xff;
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

/** One line of spec §3.1 (a value) or §5 (a fault), ended by CR LF (spec §3.3). */
export function formatSensorLine(sample: SensorSample, options: LineFormatOptions = {}): string {
  const head = sample.kind === 'value' ? `T=${decimal(sample.celsius)}` : `ERR=${sample.fault}`;
  const payload = `${head},CJ=${decimal(sample.coldJunction)}`;
  if (!options.checksum) return `${payload}\r\n`;
  const sum = lineChecksum(payload);
  // spec §19.3 crc-errors: every bit of the checksum inverted, so it can never be right by chance.
  const sent = options.corruptChecksum ? (Number.parseInt(sum, 16) ^ 0xff).toString(16).toUpperCase().padStart(2, '0') : sum;
  return `${payload}*${sent}\r\n`;
}
