// The emulated line sensor: one line of the spec per interval, with the link faults of spec §19.3.
import { FAULT_RATE, Furnace, type FurnaceOptions } from './furnace.js';
import { formatSensorLine } from './line-protocol.js';
import { assertScenarioFits } from './scenario.js';
import { resampleUart } from './uart.js';

export interface LineEmulatorOptions extends FurnaceOptions {
  /** Milliseconds of wall time between two lines. */
  intervalMs: number;
  /** Simulated seconds per real second: each line advances the model `intervalMs / 1000 × speed` s. */
  speed?: number;
  /** Where the bytes go: a transport's write. */
  write: (data: Buffer) => void;
  /** Lines carry the `*HH` checksum of spec §6. */
  checksum?: boolean;
  /** The line's baud rate (spec §2); the baud-mismatch fault sends at twice it. */
  baudRate?: number;
}

/** Spec §2: the default line speed. */
export const LINE_DEFAULT_BAUD = 9600;

/** An emulated line-protocol sensor: one reading of the furnace per interval. */
export class LineEmulator {
  readonly furnace: Furnace;
  private timer: NodeJS.Timeout | undefined;
  private linesWritten = 0;
  private readonly stepSeconds: number;

  constructor(private readonly options: LineEmulatorOptions) {
    assertScenarioFits(options.scenario ?? [], 'line', options.checksum);
    this.furnace = new Furnace(options);
    this.stepSeconds = (options.intervalMs / 1000) * (options.speed ?? 1);
  }

  /** How many writes went down the line (lines, cut lines and garbage alike; not the stalled ones). */
  get lines(): number {
    return this.linesWritten;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One interval: advance the furnace, then send what the device would send now. */
  tick(): void {
    const furnace = this.furnace;
    furnace.advance(this.stepSeconds);
    // spec §19.3 stall: the device says nothing, but the furnace goes on.
    if (furnace.isActive('stall')) return;
    const line = formatSensorLine(furnace.sample(), {
      checksum: this.options.checksum,
      corruptChecksum: furnace.isActive('crc-errors'),
    });
    let bytes: Buffer = Buffer.from(line, 'latin1');
    // spec §19.3 partial: the device resets mid-line; the head goes out without its CR LF.
    if (furnace.isActive('partial') && furnace.faultRandom() < FAULT_RATE.partial) {
      bytes = bytes.subarray(0, furnace.randomInt(1, bytes.length - 3));
    }
    // spec §19.3 baud-mismatch: the device transmits at twice the line's rate.
    if (furnace.isActive('baud-mismatch')) {
      const baud = this.options.baudRate ?? LINE_DEFAULT_BAUD;
      bytes = resampleUart(bytes, baud * 2, baud);
    }
    // spec §19.3 noise: a burst of 8 to 32 random bytes lands on the line before the line.
    if (furnace.isActive('noise') && furnace.faultRandom() < FAULT_RATE.noise) {
      bytes = Buffer.concat([furnace.randomBytes(furnace.randomInt(8, 32)), bytes]);
    }
    if (bytes.length === 0) return;
    this.options.write(bytes);
    this.linesWritten++;
  }
}
