import { describe, expect, it } from 'vitest';
import { decodeRegisters, engineeringValue, registerCount } from './modbus-value.js';

const BIG = { byteOrder: 'big', wordOrder: 'big' } as const;
const bytes = (...values: number[]) => Buffer.from(values);

describe('Modbus register values', () => {
  it('reads 16-bit registers signed and unsigned', () => {
    expect(decodeRegisters(bytes(0x1f, 0xbd), { type: 'int16', ...BIG })).toBe(8125);
    expect(decodeRegisters(bytes(0x80, 0x00), { type: 'int16', ...BIG })).toBe(-32768);
    expect(decodeRegisters(bytes(0x80, 0x00), { type: 'uint16', ...BIG })).toBe(32768);
    expect(decodeRegisters(bytes(0xbd, 0x1f), { type: 'int16', byteOrder: 'little', wordOrder: 'big' })).toBe(8125);
    expect(registerCount('int16')).toBe(1);
  });

  it('reads 32-bit values in every byte and word order (spec §12: 812.5 is 0x444B 0x2000)', () => {
    expect(decodeRegisters(bytes(0x44, 0x4b, 0x20, 0x00), { type: 'float32', ...BIG })).toBe(812.5);
    expect(decodeRegisters(bytes(0x20, 0x00, 0x44, 0x4b), { type: 'float32', byteOrder: 'big', wordOrder: 'little' })).toBe(812.5);
    expect(decodeRegisters(bytes(0x00, 0x20, 0x4b, 0x44), { type: 'float32', byteOrder: 'little', wordOrder: 'little' })).toBe(812.5);
    expect(decodeRegisters(bytes(0xff, 0xff, 0xff, 0xfe), { type: 'int32', ...BIG })).toBe(-2);
    expect(decodeRegisters(bytes(0xff, 0xff, 0xff, 0xfe), { type: 'uint32', ...BIG })).toBe(4_294_967_294);
    expect(registerCount('float32')).toBe(2);
    expect(() => decodeRegisters(bytes(0x44, 0x4b), { type: 'float32', ...BIG })).toThrow(RangeError);
  });

  it('scales and offsets, without binary noise, and knows "no value"', () => {
    expect(engineeringValue(8125, { scale: 0.1, offset: 0 })).toEqual({ kind: 'value', value: 812.5 });
    expect(engineeringValue(100, { scale: 0.5, offset: -10 })).toEqual({ kind: 'value', value: 40 });
    expect(engineeringValue(-32768, { scale: 0.1, offset: 0, noValue: -32768 })).toEqual({ kind: 'no-value', raw: -32768 });
    expect(engineeringValue(Number.NaN, { scale: 1, offset: 0 })).toEqual({ kind: 'no-value', raw: Number.NaN });
  });
});
