import { MAX_LINE_LENGTH } from './line-parser.js';

/**
 * Splits a byte stream into lines on LF, with a bounded buffer: noise without newlines
 * (a wrong baud rate, a floating RX pin) is discarded and reported instead of growing
 * memory, and the next newline starts clean.
 */
export class LineSplitter {
  private pending = '';
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverlong: (bytes: number) => void,
    private readonly maxLength = MAX_LINE_LENGTH * 4,
  ) {}

  push(chunk: Buffer): void {
    // latin1 maps every byte to one character, so junk bytes never throw and lengths are byte counts.
    const parts = (this.pending + chunk.toString('latin1')).split('\n');
    this.pending = parts.pop() ?? '';
    for (const part of parts) {
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      // The same verdict whether the junk came in one chunk or several.
      if (part.length > this.maxLength) this.onOverlong(part.length);
      else this.onLine(part);
    }
    if (this.pending.length > this.maxLength) {
      if (!this.discarding) this.onOverlong(this.pending.length);
      this.discarding = true;
      this.pending = '';
    }
  }
}
