import { autoDetect } from '@serialport/bindings-cpp';
import type { BindingInterface } from '@serialport/bindings-interface';
import { SerialPortStream } from '@serialport/stream';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import { type PortAddress, resolveUsbPort } from './port-path.js';
import type { Connection, Opener } from './reopening-link.js';

export interface SerialLineSettings {
  baudRate: number;
  dataBits?: 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
}

export interface SerialOpenerOptions extends SerialLineSettings {
  address: Exclude<PortAddress, { kind: 'tcp' }>;
  /** The path as configured, and the setting it came from, for error messages. */
  path: string;
  setting: string;
  /** The serialport binding; the operating system's by default, a mock in tests and demos. */
  binding?: BindingInterface;
  log: Logger;
}

/**
 * Opens a serial port. A `usb:VID:PID` address is looked up again at every open, so an adapter
 * that comes back as /dev/ttyUSB1 after a replug is still found.
 */
export function serialOpener(options: SerialOpenerOptions): Opener {
  const binding = options.binding ?? autoDetect();
  return async ({ onData, onClose }) => {
    const { address, log } = options;
    const path = address.kind === 'usb' ? await resolveUsbPort(binding, address, options.setting, options.path) : address.path;
    const port = new SerialPortStream({
      binding,
      path,
      baudRate: options.baudRate,
      dataBits: options.dataBits ?? 8,
      parity: options.parity ?? 'none',
      stopBits: options.stopBits ?? 1,
      autoOpen: false,
    });
    port.on('data', (chunk: Buffer) => onData(chunk));
    // Errors also end in 'close' when they matter; without a listener one would crash the agent.
    port.on('error', (error) => log.debug({ err: error, path }, 'serial port error'));
    // The operating system's words stay the message (they are the sensor's state reason); the code says what failed.
    await new Promise<void>((resolve, reject) =>
      port.open((error) => (error ? reject(new AgentError('AGENT_SERIAL_OPEN_FAILED', error.message, { cause: error })) : resolve())),
    );
    port.once('close', (error?: Error | null) => onClose(error?.message ? `port closed: ${error.message}` : 'port closed'));
    const connection: Connection = {
      write: (data) => {
        port.write(data);
      },
      close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    };
    return connection;
  };
}
