import { EventEmitter } from 'node:events';
import { autoDetect } from '@serialport/bindings-cpp';
import type { BindingInterface } from '@serialport/bindings-interface';
import { SerialPortStream } from '@serialport/stream';
import type { Logger } from 'pino';
import { LineSplitter } from './line-splitter.js';

export type SourceState = 'opening' | 'open' | 'closed' | 'stalled';

export interface SerialSourceOptions {
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

interface SerialSourceEvents {
  line: [line: string];
  /** Bytes that never formed a line (no newline within the length limit). */
  overlong: [bytes: number];
  state: [state: SourceState, reason?: string];
}

/**
 * A serial port read as lines, that keeps itself open: when the port fails to open or
 * vanishes (a USB adapter unplugged), it reopens with growing, jittered delays until
 * `stop()`. The first failure is logged loudly, the repeats quietly, as signalk-server's
 * serial reader does.
 */
export class SerialSource extends EventEmitter<SerialSourceEvents> {
  private port: SerialPortStream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private stalls = 0;

  constructor(private readonly options: SerialSourceOptions) {
    super();
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stallTimer);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private open(): void {
    const { path, baudRate, log } = this.options;
    this.emit('state', 'opening');
    const binding = this.options.binding ?? autoDetect();
    const port = new SerialPortStream({ binding, path, baudRate, autoOpen: false });
    const splitter = new LineSplitter((line) => this.emit('line', line), (bytes) => this.emit('overlong', bytes));
    port.on('data', (chunk: Buffer) => {
      this.armStallTimer(port);
      splitter.push(chunk);
    });
    port.on('error', (error) => log.debug({ err: error, path }, 'serial port error'));
    port.once('close', () => {
      clearTimeout(this.stallTimer);
      if (this.port !== port) return;
      this.port = undefined;
      this.failed('port closed');
    });
    this.port = port;
    port.open((error) => {
      if (this.stopped || this.port !== port) {
        // stop() came while the port was opening: close what just opened, or lines would keep coming.
        if (!error && port.isOpen) port.close();
        return;
      }
      if (error) {
        this.port = undefined;
        this.failed(error.message);
        return;
      }
      if (this.failures > 0) log.info({ path, failures: this.failures }, 'serial port reopened');
      else log.info({ path, baudRate }, 'serial port open');
      this.failures = 0;
      this.emit('state', 'open');
      this.armStallTimer(port);
    });
  }

  /** A port can be open and silent (sensor hung, cable cut behind a converter): reopening is the one cure we have. */
  private armStallTimer(port: SerialPortStream): void {
    const stallAfterMs = this.options.stallAfterMs ?? 0;
    if (stallAfterMs <= 0) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      if (this.stopped || this.port !== port) return;
      this.stalls++;
      const reason = `no data for ${stallAfterMs} ms`;
      const level = this.stalls === 1 ? 'warn' : 'debug';
      this.options.log[level]({ path: this.options.path, reason, stalls: this.stalls }, 'serial port stalled; reopening');
      this.emit('state', 'stalled', reason);
      // Detach first, so the close is a reopen on our terms and not reported as the port vanishing.
      this.port = undefined;
      port.close(() => {
        if (!this.stopped) this.retryTimer = setTimeout(() => this.open(), this.options.reopenMinMs ?? 250);
      });
    }, stallAfterMs);
  }

  private failed(reason: string): void {
    if (this.stopped) return;
    const { path, log } = this.options;
    this.failures++;
    const delay = this.nextDelay();
    this.emit('state', 'closed', reason);
    const fields = { path, reason, retryInMs: delay, failures: this.failures };
    if (this.failures === 1) log.warn(fields, 'serial port unavailable; retrying');
    else log.debug(fields, 'serial port still unavailable');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Exponential backoff from `reopenMinMs`, capped, with ±20 % jitter so many agents do not retry in step. */
  private nextDelay(): number {
    const min = this.options.reopenMinMs ?? 250;
    const base = Math.min(min * 2 ** Math.min(this.failures - 1, 20), this.options.reopenMaxMs);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }
}
