// Maximum packet size. mqtt-packet (aedes' parser) buffers a packet until its Remaining Length
// has arrived, up to the protocol's 256 MiB, and has no limit of its own: a client announcing a
// huge packet would make the broker hold that much. This scanner reads only the fixed headers
// [MQTT-2.2] of the bytes the parser is about to get and reports the first packet that is too
// large, before its body is buffered.

type State = 'type' | 'length' | 'body';

export class PacketSizeGuard {
  private state: State = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  /** @param maxBytes the largest whole packet (fixed header included) let through */
  constructor(private readonly maxBytes: number) {}

  /**
   * Feeds the next bytes of the stream. Returns the announced size of the first packet over
   * the limit (or Infinity for a malformed Remaining Length), else `undefined`.
   */
  feed(chunk: Buffer): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'type':
          i += 1;
          this.state = 'length';
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          break;
        case 'length': {
          const byte = chunk[i] ?? 0;
          i += 1;
          this.lengthBytes += 1;
          // Remaining Length: 7 bits per byte, least significant first, at most 4 bytes [MQTT-2.2.3].
          this.length += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          if (byte & 0x80) {
            if (this.lengthBytes === 4) return Number.POSITIVE_INFINITY; // a 5th byte: malformed
            break;
          }
          const total = 1 + this.lengthBytes + this.length;
          if (total > this.maxBytes) return total;
          this.remaining = this.length;
          this.state = this.remaining === 0 ? 'type' : 'body';
          break;
        }
        case 'body': {
          const skip = Math.min(this.remaining, chunk.length - i);
          i += skip;
          this.remaining -= skip;
          if (this.remaining === 0) this.state = 'type';
          break;
        }
      }
    }
    return undefined;
  }
}
