import type { BindingInterface } from '@serialport/bindings-interface';
import type { Logger } from 'pino';
import { createLink } from '../../agent/links/link-factory.js';
import { LineSource } from '../../agent/drivers/line-source.js';

export type { SourceState } from '../../agent/links/reopening-link.js';

export interface SerialSourceOptions {
  /** A device path, usb:VID:PID or tcp://host:port. */
  path: string;
  baudRate: number;
  /** The serialport binding; the operating system's by default, a mock in tests. */
  binding?: BindingInterface;
  reopenMinMs?: number;
  reopenMaxMs: number;
  /** An open port that delivers no byte for this long is closed and reopened (ms; 0: never). */
  stallAfterMs?: number;
  log: Logger;
}

/**
 * The line source the agent's line drivers read (agent/drivers/drivers.ts builds the same: a LineSource
 * over createLink), made from plain options so tests can read a port as lines without a driver.
 */
export class SerialSource extends LineSource {
  constructor(options: SerialSourceOptions) {
    super(createLink(options, options.log, options.binding));
  }
}
