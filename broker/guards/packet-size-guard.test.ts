import { describe, expect, it } from 'vitest';
import { PacketSizeGuard } from './packet-size-guard.js';

/** A fixed header with `length` as Remaining Length, then that many body bytes. */
function packet(type: number, length: number): Buffer {
  const header = [type];
  let rest = length;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    header.push(byte);
  } while (rest > 0);
  return Buffer.concat([Buffer.from(header), Buffer.alloc(length, 0x41)]);
}

describe('PacketSizeGuard', () => {
  it('lets packets up to the limit through, in any chunking', () => {
    const stream = Buffer.concat([packet(0x30, 10), packet(0xc0, 0), packet(0x30, 200), packet(0x32, 1000 - 3)]);
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const guard = new PacketSizeGuard(1000);
      for (let i = 0; i < stream.length; i += size) expect(guard.feed(stream.subarray(i, i + size))).toBeUndefined();
    }
  });

  it('reports the first packet over the limit from its header alone', () => {
    const guard = new PacketSizeGuard(1000);
    expect(guard.feed(packet(0x30, 10))).toBeUndefined();
    // 200 MB announced: reported after the header, long before the body could arrive.
    expect(guard.feed(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x60]))).toBe(1 + 4 + 0x60 * 128 ** 3);
    expect(new PacketSizeGuard(1000).feed(packet(0x30, 998))).toBe(1001);
  });

  it('reports a Remaining Length of more than four bytes as malformed', () => {
    expect(new PacketSizeGuard(1000).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(Number.POSITIVE_INFINITY);
  });
});
