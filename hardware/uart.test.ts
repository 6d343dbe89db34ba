import { describe, expect, it } from 'vitest';
import { resampleUart } from './uart.js';

describe('resampleUart (the baud-mismatch fault, spec §19.3)', () => {
  it('reads every byte back unchanged at the same rate', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(resampleUart(all, 9600, 9600)).toEqual(all);
    expect(resampleUart(all, 115200, 115200)).toEqual(all);
  });

  it('matches frames worked out by hand for a sender at half the rate', () => {
    // 0xFF at 4800 read at 9600: the start bit lasts two receiver bits, so data bit 0 reads 0 and
    // the rest read 1 (0xFE); the stop bit (sampled in the sender's bit 4, a 1) is good.
    expect(resampleUart(Buffer.from([0xff]), 4800, 9600)).toEqual(Buffer.from([0xfe]));
    // 0x00 at 4800: the stop bit is sampled inside the sender's data, a 0: a framing error, dropped.
    expect(resampleUart(Buffer.from([0x00]), 4800, 9600)).toEqual(Buffer.alloc(0));
  });

  it('turns a line sent at twice the rate into garbage that holds no line, the same every time', () => {
    const line = Buffer.from('T=812.5,CJ=24.1\r\n');
    const garbage = resampleUart(line, 19200, 9600);
    expect(garbage).toEqual(resampleUart(line, 19200, 9600));
    expect(garbage.length).toBeGreaterThan(0);
    expect(garbage.length).toBeLessThan(line.length);
    expect(garbage.toString('latin1')).not.toContain('T=');
  });
});
