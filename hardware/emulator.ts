import { FurnaceModel } from './furnace-model.js';
import { formatTemperatureLine } from './line-protocol.js';

export interface LineEmulatorOptions {
  seed: number;
  /** Milliseconds of wall time between two lines. */
  intervalMs: number;
  /** Simulated seconds per line: `intervalMs / 1000 × speed`. */
  speed?: number;
  /** Where each line goes: a transport's write. */
  write: (line: string) => void;
}

/** An emulated line-protocol sensor: one reading of the furnace model per interval. */
export class LineEmulator {
  private readonly model: FurnaceModel;
  private timer: NodeJS.Timeout | undefined;
  private linesWritten = 0;

  constructor(private readonly options: LineEmulatorOptions) {
    this.model = new FurnaceModel({ seed: options.seed });
  }

  get lines(): number {
    return this.linesWritten;
  }

  start(): void {
    if (this.timer) return;
    const stepSeconds = (this.options.intervalMs / 1000) * (this.options.speed ?? 1);
    this.timer = setInterval(() => {
      this.options.write(formatTemperatureLine(this.model.step(stepSeconds)));
      this.linesWritten++;
    }, this.options.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
