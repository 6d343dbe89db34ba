import type { BindingInterface, PortInfo } from '@serialport/bindings-interface';
import { AgentError } from '../errors.js';

/**
 * Where a port is, as the settings give it:
 * - a device path: `/dev/ttyUSB0`, `/dev/ttyAMA0`, or the stable `/dev/serial/by-id/usb-FTDI_...`
 *   link udev makes (opening the link follows it, so a replugged adapter is found again);
 * - `usb:VID:PID[:SERIAL]`: the USB serial adapter with that vendor and product id (hex), looked
 *   up among the plugged-in ports at every (re)open, for when the by-id name is not known;
 * - `tcp://host:port`: a serial-to-Ethernet gateway or ser2net in raw mode (hardware spec §20).
 */
export type PortAddress =
  | { kind: 'device'; path: string }
  | { kind: 'usb'; vendorId: string; productId: string; serialNumber?: string }
  | { kind: 'tcp'; host: string; port: number };

const USB = /^usb:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::(.+))?$/;
const TCP = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})\/?$/;

/** Parses a port path; a string says what is wrong with it. */
export function parsePortPath(text: string): PortAddress | string {
  if (text.startsWith('usb:')) {
    const match = USB.exec(text);
    if (!match?.[1] || !match[2]) return 'expected usb:VID:PID or usb:VID:PID:SERIAL with 4 hexadecimal digits each, e.g. usb:0403:6001';
    return {
      kind: 'usb',
      vendorId: match[1].toLowerCase(),
      productId: match[2].toLowerCase(),
      ...(match[3] ? { serialNumber: match[3] } : {}),
    };
  }
  if (text.startsWith('tcp:')) {
    const match = TCP.exec(text);
    const port = Number(match?.[2]);
    if (!match?.[1] || !(port >= 1 && port <= 65_535)) return 'expected tcp://host:port with a port from 1 to 65535';
    return { kind: 'tcp', host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return 'unknown scheme: use a device path, usb:VID:PID or tcp://host:port';
  return { kind: 'device', path: text };
}

/** udevadm missing: the one reason a listing can never work on this machine. */
export function isListingImpossible(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ENOENT' && typeof message === 'string' && message.includes('udevadm');
}

/**
 * Lists the serial ports (serialport's `list()`, which on Linux asks `udevadm`), wrapping a
 * failure in an error that names the setting and what to do.
 */
export async function listPorts(binding: BindingInterface, setting: string, path: string): Promise<PortInfo[]> {
  try {
    return await binding.list();
  } catch (error) {
    const why = isListingImpossible(error)
      ? 'udevadm was not found (serialport lists USB ports through it: install the Debian package udev), or give the port as /dev/serial/by-id/...'
      : (error as Error).message;
    throw new AgentError(
      'AGENT_SERIAL_LIST_FAILED',
      `${setting} = ${JSON.stringify(path)}: cannot list the USB serial ports to find it: ${why}`,
      {
        cause: error,
      },
    );
  }
}

/** The device path of the one plugged-in port that matches a `usb:` address. */
export async function resolveUsbPort(
  binding: BindingInterface,
  address: Extract<PortAddress, { kind: 'usb' }>,
  setting: string,
  path: string,
): Promise<string> {
  const ports = await listPorts(binding, setting, path);
  const matches = ports
    .filter((port) => port.vendorId?.toLowerCase() === address.vendorId && port.productId?.toLowerCase() === address.productId)
    .filter((port) => address.serialNumber === undefined || port.serialNumber === address.serialNumber)
    .sort((a, b) => a.path.localeCompare(b.path));
  const [first, ...others] = matches;
  if (!first)
    throw new AgentError('AGENT_SERIAL_NOT_FOUND', `${setting} = ${JSON.stringify(path)}: no USB serial port with that id is plugged in`);
  if (others.length > 0) {
    // Two identical adapters: picking one would read the wrong furnace half the time.
    const found = matches.map((port) => `${port.path}${port.serialNumber ? ` (serial ${port.serialNumber})` : ''}`).join(', ');
    throw new AgentError(
      'AGENT_SERIAL_NOT_FOUND',
      `${setting} = ${JSON.stringify(path)}: ${matches.length} ports match (${found}): add the serial number (usb:VID:PID:SERIAL) or use /dev/serial/by-id/...`,
    );
  }
  return first.path;
}
