import type { EmulatorTransport } from './transport.js';

/**
 * The emulator on standard output and input (spec §20): for pipes, `socat` set up by hand, or
 * a look at the raw bytes. Logs must then go to standard error.
 */
export function openStdioTransport(): EmulatorTransport {
  let listener: ((data: Buffer) => void) | undefined;
  const onData = (chunk: Buffer) => listener?.(chunk);
  return {
    devicePath: '-',
    write: (data) => {
      process.stdout.write(data);
    },
    onData: (next) => {
      if (!listener) process.stdin.on('data', onData);
      listener = next;
    },
    close: () => {
      process.stdin.off('data', onData);
      process.stdin.pause();
      return Promise.resolve();
    },
  };
}
