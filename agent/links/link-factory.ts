import type { BindingInterface } from '@serialport/bindings-interface';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import { parsePortPath } from './port-path.js';
import { type Opener, ReopeningLink } from './reopening-link.js';
import { type SerialLineSettings, serialOpener } from './serial-link.js';
import { tcpOpener } from './tcp-link.js';

export interface LinkSettings extends SerialLineSettings {
  /** A device path, usb:VID:PID or tcp://host:port (see port-path.ts). */
  path: string;
  /** The setting the path came from (`serial.path`, `ports.rs485.path`), for error messages. */
  setting?: string;
  reopenMinMs?: number;
  reopenMaxMs: number;
  stallAfterMs?: number;
  /** tcp:// only. */
  connectTimeoutMs?: number;
}

/** The opener for a path: a serial port (by path, by-id link or USB id) or a TCP connection. */
export function openerFor(settings: LinkSettings, log: Logger, binding?: BindingInterface): Opener {
  const address = parsePortPath(settings.path);
  const setting = settings.setting ?? 'serial.path';
  if (typeof address === 'string') {
    throw new AgentError('AGENT_CONFIG_INVALID', `${setting} = ${JSON.stringify(settings.path)}: ${address}`);
  }
  if (address.kind === 'tcp')
    return tcpOpener({ host: address.host, port: address.port, connectTimeoutMs: settings.connectTimeoutMs ?? 5000 });
  return serialOpener({ ...settings, address, setting, binding, log });
}

/** A link to `settings.path` that keeps itself open. */
export function createLink(settings: LinkSettings, log: Logger, binding?: BindingInterface): ReopeningLink {
  return new ReopeningLink({
    describe: settings.path,
    open: openerFor(settings, log, binding),
    reopenMinMs: settings.reopenMinMs,
    reopenMaxMs: settings.reopenMaxMs,
    stallAfterMs: settings.stallAfterMs,
    log,
  });
}
