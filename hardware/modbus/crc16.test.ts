import { describe, expect, it } from 'vitest';
import { crc16Modbus, hasValidCrc, withCrc } from './crc16.js';

const hex = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');

describe('CRC-16/MODBUS (spec §10.2)', () => {
  it('gives the catalogued check value 0x4B37 for "123456789"', () => {
    expect(crc16Modbus(Buffer.from('123456789'))).toBe(0x4b37);
  });

  it.each([
    // Read 10 holding registers from 0 of slave 1: the example of the Modbus literature.
    ['01 03 00 00 00 0A', 'C5 CD'],
    // Read 1 holding register at 0x006B of slave 0x11 (Modbus over serial line guide).
    ['11 03 00 6B 00 03', '76 87'],
    // Write 0x0003 to register 1 of slave 1.
    ['01 06 00 01 00 03', '98 0B'],
    // An exception 02 to a read of slave 1.
    ['01 83 02', 'C0 F1'],
  ])('frames %s with the CRC bytes %s, low byte first', (body, crc) => {
    expect(withCrc(hex(body))).toEqual(hex(`${body}${crc}`));
    expect(hasValidCrc(hex(`${body}${crc}`))).toBe(true);
  });

  it('refuses a frame with one bit flipped, or too short to hold a CRC', () => {
    const frame = withCrc(hex('01 04 00 00 00 01'));
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const broken = Buffer.from(frame);
      broken[bit >> 3] = (broken[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(hasValidCrc(broken)).toBe(false);
    }
    expect(hasValidCrc(hex('01 02'))).toBe(false);
  });
});
