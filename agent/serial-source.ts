import type { BindingInterface } from '@serialport/bindings-interface';
import type { Logger } from 'pino';
import { createLink } from './link-factory.js';
import { LineSource } from './line-source.js';

export type { SourceState } from './reopening-link.js';

export interface SerialSourceOptions {
  /** A device path, usb:VID:PID or tcp://host:port. */
  path: string;
  baudRate: number;
  /** The serialport binding; the operating system's by default, a mock in tests and demos. */
  binding?: BindingInterface;
  reopenMinMs?: number;
  reopenMaxMs: number;
  /** An open port that delivers no byte for this long is closed and reopened (ms; 0: never). */
  stallAfterMs?: number;
  log: Logger;
}

/**
 * A serial port read as lines, that keeps itself open: reopened with growing, jittered delays
 * when it fails or vanishes, and when it is open but silent for `stallAfterMs`, until `stop()`.
 * The emulator's tests and tools reuse it as the reference reader of a line.
 */
export class SerialSource extends LineSource {
  constructor(options: SerialSourceOptions) {
    super(createLink(options, options.log, options.binding));
  }
}
