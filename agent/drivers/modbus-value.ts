import type { ModbusOptions } from '../config-schema.js';

export type RegisterType = ModbusOptions['type'];

/** How many 16-bit registers a value of `type` spans. */
export function registerCount(type: RegisterType): 1 | 2 {
  return type === 'int16' || type === 'uint16' ? 1 : 2;
}

/**
 * The raw number in register bytes as they came off the bus. Modbus itself sends each
 * register big-endian (spec §11) and says nothing about 32-bit values: devices differ, so the
 * byte order within a register and the word order of a pair are settings (spec §12's float is
 * high word first, big-endian: the defaults).
 */
export function decodeRegisters(
  data: Buffer,
  { type, byteOrder, wordOrder }: Pick<ModbusOptions, 'type' | 'byteOrder' | 'wordOrder'>,
): number {
  const count = registerCount(type);
  if (data.length < count * 2) throw new RangeError(`${type} needs ${count * 2} bytes, got ${data.length}`);
  const words = [0, 1].slice(0, count).map((i) => {
    const word = Buffer.from(data.subarray(i * 2, i * 2 + 2));
    return byteOrder === 'little' ? word.reverse() : word;
  });
  const bytes = Buffer.concat(count === 2 && wordOrder === 'little' ? words.reverse() : words);
  switch (type) {
    case 'int16':
      return bytes.readInt16BE(0);
    case 'uint16':
      return bytes.readUInt16BE(0);
    case 'int32':
      return bytes.readInt32BE(0);
    case 'uint32':
      return bytes.readUInt32BE(0);
    case 'float32':
      return bytes.readFloatBE(0);
  }
}

export type DecodedValue = { kind: 'value'; value: number } | { kind: 'no-value'; raw: number };

/**
 * The engineering value of a raw register value: `raw × scale + offset`, rounded to what the
 * register can carry. A NaN float, or the raw value the settings name as "no value" (spec §12:
 * 0x8000 while the thermocouple is faulty), is no value: a bad reading.
 */
export function engineeringValue(
  raw: number,
  { scale, offset, noValue }: Pick<ModbusOptions, 'scale' | 'offset' | 'noValue'>,
): DecodedValue {
  if (!Number.isFinite(raw) || raw === noValue) return { kind: 'no-value', raw };
  // 812.5 read as 8125 × 0.1 is 812.5000000000001 in binary floating point; 9 significant digits
  // keep every digit a 32-bit register can hold and drop that noise.
  return { kind: 'value', value: Number((raw * scale + offset).toPrecision(9)) };
}
