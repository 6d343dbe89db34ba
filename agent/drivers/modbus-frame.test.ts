import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc16Modbus, withCrc } from '../../hardware/modbus/crc16.js';
import { crc16, findResponse, readRequest } from './modbus-frame.js';

/** A read answer as a slave sends it (spec §11): slave, function, byte count, values, CRC. */
function answer(slave: number, fn: number, words: number[]): Buffer {
  const body = Buffer.alloc(3 + words.length * 2);
  body.writeUInt8(slave, 0);
  body.writeUInt8(fn, 1);
  body.writeUInt8(words.length * 2, 2);
  words.forEach((word, i) => body.writeUInt16BE(word, 3 + i * 2));
  return withCrc(body);
}

describe('Modbus RTU framing (hardware spec §10, §11, §15)', () => {
  it('computes CRC-16/MODBUS: the check value, and the same as the emulator on random frames', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x4b37);
    for (let i = 0; i < 50; i++) {
      const bytes = randomBytes(1 + (i % 40));
      expect(crc16(bytes)).toBe(crc16Modbus(bytes));
    }
  });

  it('builds a read request as the spec example shows it', () => {
    expect(readRequest(1, 'holding', 0, 10).toString('hex')).toBe('01030000000ac5cd');
    expect(readRequest(7, 'input', 1, 2)).toEqual(withCrc(Buffer.from([7, 4, 0, 1, 0, 2])));
  });

  it('finds an answer, also behind noise and a fake header with a wrong CRC', () => {
    const reply = answer(7, 4, [0x1fbd, 0x444b]);
    expect(findResponse(reply, 7, 'input', 2)).toEqual({ kind: 'registers', data: Buffer.from([0x1f, 0xbd, 0x44, 0x4b]) });
    const noise = Buffer.from([0x00, 0xff, 0x07, 0x04, 0x04, 0x01, 0x02, 0x03, 0x04, 0x99, 0x98, 0x13]);
    expect(findResponse(Buffer.concat([noise, reply]), 7, 'input', 2)).toMatchObject({ kind: 'registers' });
  });

  it('waits for the rest of a cut answer, saying how much of it came', () => {
    const reply = answer(1, 3, [1, 2, 3]);
    expect(findResponse(reply.subarray(0, 6), 1, 'holding', 3)).toEqual({ kind: 'incomplete', partial: 6 });
    expect(findResponse(Buffer.alloc(0), 1, 'holding', 3)).toEqual({ kind: 'incomplete', partial: 0 });
  });

  it('reports an exception (spec §15) and a CRC error (spec §10.2)', () => {
    expect(findResponse(withCrc(Buffer.from([1, 0x84, 0x06])), 1, 'input', 1)).toEqual({ kind: 'exception', code: 6 });
    const garbled = answer(1, 4, [8125]);
    garbled.writeUInt16LE(garbled.readUInt16LE(garbled.length - 2) ^ 0xffff, garbled.length - 2);
    expect(findResponse(garbled, 1, 'input', 1)).toEqual({ kind: 'crc-error' });
  });

  it('ignores the answers of other slaves and of other reads', () => {
    expect(findResponse(answer(2, 4, [5]), 1, 'input', 1).kind).toBe('incomplete');
    expect(findResponse(answer(1, 3, [5]), 1, 'input', 1).kind).toBe('incomplete');
    expect(findResponse(answer(1, 4, [5, 6]), 1, 'input', 1).kind).toBe('incomplete');
  });
});
