// Modbus RTU framing for a master: the read requests it sends and the answers it looks for
// (hardware/README.md §10, §11, §15). Only what the agent reads: functions 03 and 04.

/** Spec §11: read holding registers (03) and read input registers (04). */
export const ReadFunction = { holding: 0x03, input: 0x04 } as const;
export type RegisterTable = keyof typeof ReadFunction;

/** Spec §11: at most 125 registers per read. */
export const MAX_READ_QUANTITY = 125;

/** Spec §15 and the Modbus application protocol: what each exception code means. */
const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'slave device failure',
  5: 'acknowledge',
  6: 'slave device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? 'unknown exception';
}

/** Spec §10.2: CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), sent low byte first. */
export function crc16(bytes: Uint8Array, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) {
    crc ^= bytes[i] ?? 0;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** Spec §11: `slave, function, address (2), quantity (2), CRC (2, low byte first)`. */
export function readRequest(slaveId: number, table: RegisterTable, address: number, quantity: number): Buffer {
  const frame = Buffer.alloc(8);
  frame.writeUInt8(slaveId, 0);
  frame.writeUInt8(ReadFunction[table], 1);
  frame.writeUInt16BE(address, 2);
  frame.writeUInt16BE(quantity, 4);
  frame.writeUInt16LE(crc16(frame, 6), 6);
  return frame;
}

export type ResponseMatch =
  /** The register bytes (2 per register, as sent). */
  | { kind: 'registers'; data: Buffer }
  /** Spec §15: the slave refused, with this code. */
  | { kind: 'exception'; code: number }
  /** A whole answer of the right shape arrived, but its CRC is wrong (spec §10.2). */
  | { kind: 'crc-error' }
  /** Nothing usable yet; `partial` bytes of an answer's head have arrived. */
  | { kind: 'incomplete'; partial: number };

/**
 * Looks in `buffer` for the answer of `slaveId` to a read of `quantity` registers with
 * `table`'s function. Bytes before it (noise on the bus, spec §19.3) are skipped: the answer
 * may start anywhere. A candidate whose CRC fails is skipped too, in case it was noise that
 * happened to look like a header; only when nothing else fits is it reported as a CRC error.
 */
export function findResponse(buffer: Buffer, slaveId: number, table: RegisterTable, quantity: number): ResponseMatch {
  const fn = ReadFunction[table];
  const byteCount = quantity * 2;
  let crcFailed = false;
  let partial = 0;
  for (let i = 0; i + 1 < buffer.length; i++) {
    if (buffer[i] !== slaveId) continue;
    const code = buffer[i + 1];
    if (code === (fn | 0x80)) {
      // Spec §15: slave, function | 0x80, exception code, CRC.
      if (i + 5 > buffer.length) {
        partial = Math.max(partial, buffer.length - i);
        continue;
      }
      if (crcMatches(buffer, i, 3)) return { kind: 'exception', code: buffer[i + 2] ?? 0 };
      crcFailed = true;
    } else if (code === fn) {
      // Spec §11: slave, function, byte count, values, CRC.
      if (i + 2 >= buffer.length) {
        partial = Math.max(partial, buffer.length - i);
        continue;
      }
      if (buffer[i + 2] !== byteCount) continue;
      const length = 3 + byteCount;
      if (i + length + 2 > buffer.length) {
        partial = Math.max(partial, buffer.length - i);
        continue;
      }
      if (crcMatches(buffer, i, length)) return { kind: 'registers', data: Buffer.from(buffer.subarray(i + 3, i + length)) };
      crcFailed = true;
    }
  }
  return crcFailed && partial === 0 ? { kind: 'crc-error' } : { kind: 'incomplete', partial };
}

function crcMatches(buffer: Buffer, start: number, length: number): boolean {
  const frame = buffer.subarray(start, start + length);
  return crc16(frame) === buffer.readUInt16LE(start + length);
}
