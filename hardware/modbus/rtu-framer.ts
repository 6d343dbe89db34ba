// Cuts a byte stream into Modbus RTU request frames, as a slave on the bus does (spec §10.1).
import { hasValidCrc } from './crc16.js';

/** Why bytes were thrown away without an answer. */
export type DiscardReason = 'bad_crc' | 'too_short';

/** The length of the request starting `buffer`, `undefined` until it is known, or `unknown` for other function codes. */
function requestLength(buffer: Buffer): number | 'unknown' | undefined {
  if (buffer.length < 2) return undefined;
  switch (buffer[1] ?? -1) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
      return 8; // address, code, two 16-bit fields, CRC
    case 0x0f:
    case 0x10:
      return buffer.length < 7 ? undefined : 9 + (buffer[6] ?? 0); // + byte count, data
    default:
      return 'unknown';
  }
}

/**
 * Spec §10.1: a frame ends at 3.5 characters of silence. Pseudo-terminals and TCP do not keep
 * byte timing, so the framer also ends a frame as soon as it holds a whole request of a known
 * function code with a valid CRC; everything else waits for the silence, then is taken as one
 * frame (answered if its CRC is valid) or thrown away.
 */
export class RtuFramer {
  private buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onDiscard: (bytes: number, reason: DiscardReason) => void,
    private readonly silenceMs: number,
  ) {}

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const length = requestLength(this.buffer);
      if (typeof length !== 'number' || this.buffer.length < length) break;
      const frame = this.buffer.subarray(0, length);
      if (!hasValidCrc(frame)) break;
      this.buffer = this.buffer.subarray(length);
      this.onFrame(Buffer.from(frame));
    }
    clearTimeout(this.timer);
    this.timer = this.buffer.length > 0 ? setTimeout(() => this.silence(), this.silenceMs) : undefined;
  }

  /** Forgets what is buffered and stops the silence timer. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = Buffer.alloc(0);
  }

  private silence(): void {
    const frame = this.buffer;
    this.buffer = Buffer.alloc(0);
    this.timer = undefined;
    // The shortest frame is an address, a function code and the CRC (spec §10.1).
    if (frame.length < 4) this.onDiscard(frame.length, 'too_short');
    else if (!hasValidCrc(frame)) this.onDiscard(frame.length, 'bad_crc');
    else this.onFrame(Buffer.from(frame));
  }
}
