import { MockBinding, type MockPortBinding } from '@serialport/binding-mock';
import type { BindingInterface } from '@serialport/bindings-interface';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.js';
import { AgentError } from '../errors.js';
import { listPorts, parsePortPath, resolveUsbPort } from './port-path.js';
import { SerialSource } from '../../test/helpers/serial-source.js';

const log = pino({ level: 'silent' });

describe('port paths', () => {
  it('reads device paths, USB ids and tcp:// addresses', () => {
    expect(parsePortPath('/dev/ttyUSB0')).toEqual({ kind: 'device', path: '/dev/ttyUSB0' });
    expect(parsePortPath('/dev/serial/by-id/usb-FTDI_FT232R_A50285BI-if00-port0')).toMatchObject({ kind: 'device' });
    expect(parsePortPath('usb:0403:6001')).toEqual({ kind: 'usb', vendorId: '0403', productId: '6001' });
    expect(parsePortPath('usb:1A86:7523:A50285BI')).toEqual({ kind: 'usb', vendorId: '1a86', productId: '7523', serialNumber: 'A50285BI' });
    expect(parsePortPath('tcp://10.0.0.9:4001')).toEqual({ kind: 'tcp', host: '10.0.0.9', port: 4001 });
    expect(parsePortPath('tcp://[::1]:5020')).toEqual({ kind: 'tcp', host: '::1', port: 5020 });
    expect(parsePortPath('tcp://gw.plant.local:4001/')).toEqual({ kind: 'tcp', host: 'gw.plant.local', port: 4001 });
  });

  it.each(['usb:403:6001', 'usb:0403', 'tcp://host', 'tcp://host:0', 'tcp://host:70000', 'rfc2217://host:4000'])(
    'refuses %j, saying what is expected',
    (path) => {
      expect(parsePortPath(path)).toEqual(expect.any(String));
    },
  );
});

describe('ports by USB vendor and product id', () => {
  const binding: BindingInterface = MockBinding;
  afterEach(() => MockBinding.reset());

  it('finds the one matching port, and refuses none or two, naming the setting', async () => {
    MockBinding.createPort('/dev/ttyUSB7', { vendorId: '0403', productId: '6001' });
    MockBinding.createPort('/dev/ttyACM0', { vendorId: '2341', productId: '0043' });
    const usb = (text: string) => parsePortPath(text) as Extract<ReturnType<typeof parsePortPath>, { kind: 'usb' }>;
    expect(await resolveUsbPort(binding, usb('usb:0403:6001'), 'ports.rs485.path', 'usb:0403:6001')).toBe('/dev/ttyUSB7');
    await expect(resolveUsbPort(binding, usb('usb:0403:6015'), 'serial.path', 'usb:0403:6015')).rejects.toMatchObject({
      code: 'AGENT_SERIAL_NOT_FOUND',
      message: 'serial.path = "usb:0403:6015": no USB serial port with that id is plugged in',
    });
    MockBinding.createPort('/dev/ttyUSB8', { vendorId: '0403', productId: '6001' });
    const serials = (await MockBinding.list()).filter((port) => port.vendorId === '0403').map((port) => port.serialNumber);
    await expect(resolveUsbPort(binding, usb('usb:0403:6001'), 'serial.path', 'usb:0403:6001')).rejects.toThrow(
      /2 ports match \(\/dev\/ttyUSB7.*\/dev\/ttyUSB8/,
    );
    expect(await resolveUsbPort(binding, usb(`usb:0403:6001:${serials[1]}`), 'serial.path', 'x')).toBe('/dev/ttyUSB8');
  });

  it('says udevadm is missing when the ports cannot be listed at all', async () => {
    const noUdev = Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT', path: 'udevadm' });
    const broken: BindingInterface = { list: () => Promise.reject(noUdev), open: (options) => MockBinding.open(options) };
    const error = await listPorts(broken, 'ports.rs485.path', 'usb:1a86:7523').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ code: 'AGENT_SERIAL_LIST_FAILED', cause: noUdev });
    expect((error as Error).message).toMatch(
      /^ports\.rs485\.path = "usb:1a86:7523": cannot list the USB serial ports to find it: udevadm was not found .*udev/,
    );
  });

  it('reads lines from a port given by USB id, found again after it comes back under another name', async () => {
    MockBinding.createPort('/dev/ttyUSB0', { vendorId: '0403', productId: '6001' });
    let port: MockPortBinding | undefined;
    const watching: BindingInterface = {
      list: () => MockBinding.list(),
      open: async (options) => (port = await MockBinding.open(options)),
    };
    // The mock binding cannot unplug a port; the stall watchdog closes and reopens it instead.
    const source = new SerialSource({
      path: 'usb:0403:6001',
      baudRate: 9600,
      binding: watching,
      reopenMinMs: 10,
      reopenMaxMs: 50,
      stallAfterMs: 300,
      log,
    });
    const lines: string[] = [];
    source.on('line', (line) => lines.push(line));
    source.start();
    try {
      await waitFor(() => port?.isOpen, { timeoutMs: 5000, what: 'the port found by USB id to open' });
      port?.emitData('T=812.5\n');
      await waitFor(() => lines.length === 1, { timeoutMs: 5000, what: 'a line' });
      // Unplugged and plugged back in as ttyUSB1.
      MockBinding.reset();
      MockBinding.createPort('/dev/ttyUSB1', { vendorId: '0403', productId: '6001' });
      await waitFor(() => port?.openOptions.path === '/dev/ttyUSB1' && port.isOpen, {
        timeoutMs: 5000,
        what: 'the port reopened as ttyUSB1',
      });
      port?.emitData('T=813.0\n');
      await waitFor(() => lines.length === 2, { timeoutMs: 5000, what: 'a line after the replug' });
      expect(lines).toEqual(['T=812.5', 'T=813.0']);
    } finally {
      await source.stop();
    }
  });
});
