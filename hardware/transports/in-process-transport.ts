import { MockBinding, type MockPortBinding } from '@serialport/binding-mock';
import type { BindingInterface } from '@serialport/bindings-interface';
import type { EmulatorTransport } from './transport.js';

export interface InProcessTransport extends EmulatorTransport {
  /** The serialport binding the agent must open `devicePath` with. */
  readonly binding: BindingInterface;
}

/**
 * An emulator joined to an agent in the same process through serialport's mock binding:
 * for unit tests, and for `npm start` on a machine without socat. The agent still runs
 * its real serial code; only the operating system's device is replaced.
 */
export function openInProcessTransport(devicePath = '/dev/ttyFURNACE0'): InProcessTransport {
  MockBinding.createPort(devicePath, { echo: false, record: false });
  let open: MockPortBinding | undefined;
  let listener: ((data: Buffer) => void) | undefined;
  const binding: BindingInterface = {
    list: () => MockBinding.list(),
    async open(options) {
      const port = await MockBinding.open(options);
      // The mock port keeps what the agent writes to itself; pass it on to the emulator as well.
      const write = port.write.bind(port);
      port.write = async (buffer: Buffer) => {
        await write(buffer);
        listener?.(Buffer.from(buffer));
      };
      open = port;
      return port;
    },
  };
  return {
    devicePath,
    binding,
    write(data) {
      if (open?.isOpen) open.emitData(Buffer.from(data));
    },
    onData(next) {
      listener = next;
    },
    async close() {
      if (open?.isOpen) await open.close();
      open = undefined;
    },
  };
}
