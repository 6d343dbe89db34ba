import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { HardwareError } from '../errors.js';
import type { EmulatorTransport } from './transport.js';

export interface PtyTransportOptions {
  /** The device path to create for the agent, e.g. `./data/serial/furnace-1`. */
  link: string;
  /** How long socat gets to create the pair. */
  timeoutMs?: number;
  /** Called once if the pair dies (socat exited or was killed) while the transport is open. */
  onLost?: (reason: string) => void;
}

/**
 * A linked pair of pseudo-terminals made by socat (spec §20): the agent opens `link` exactly as
 * it would a USB serial adapter, and the emulator reads and writes `link.emulator`. socat keeps
 * the pair alive while the agent closes and reopens its side.
 */
export async function openPtyTransport(options: PtyTransportOptions): Promise<EmulatorTransport> {
  const emulatorSide = `${options.link}.emulator`;
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${options.link}`, `pty,raw,echo=0,link=${emulatorSide}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  socat.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  await waitForLinks(socat, [options.link, emulatorSide], options.timeoutMs ?? 5000, () => stderr);
  const port = new SerialPort({ path: emulatorSide, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  let closing = false;
  let listener: ((data: Buffer) => void) | undefined;
  port.on('data', (chunk: Buffer) => listener?.(chunk));
  // Without a listener a failed write would crash the emulator; the pair's loss is reported below instead.
  port.on('error', () => undefined);
  socat.once('exit', (code, signal) => {
    if (!closing) options.onLost?.(`socat exited (${signal ?? `code ${code}`}); ${stderr.trim().split('\n').pop() ?? ''}`);
  });
  return {
    devicePath: options.link,
    write: (data) => {
      port.write(Buffer.from(data));
    },
    onData: (next) => {
      listener = next;
    },
    close: async () => {
      closing = true;
      await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
      await stopProcess(socat);
    },
  };
}

function waitForLinks(socat: ChildProcess, links: string[], timeoutMs: number, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const fail = (message: string) => {
      clearInterval(poll);
      reject(new HardwareError('HARDWARE_PTY_FAILED', `${message}; socat said: ${stderr().trim() || '(nothing)'}`));
    };
    socat.once('error', (error: NodeJS.ErrnoException) => {
      clearInterval(poll);
      reject(
        error.code === 'ENOENT' ? new HardwareError('HARDWARE_SOCAT_MISSING', 'socat not found: install the Debian package socat') : error,
      );
    });
    socat.once('exit', (code) => fail(`socat exited with code ${code} before creating ${links.join(' and ')}`));
    const poll = setInterval(() => {
      if (links.every((link) => existsSync(link))) {
        clearInterval(poll);
        socat.removeAllListeners('exit');
        resolve();
      } else if (Date.now() > deadline) {
        socat.kill('SIGKILL');
        fail(`socat did not create ${links.join(' and ')} within ${timeoutMs} ms`);
      }
    }, 20);
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
