// CRC-16/MODBUS (spec §10.2): polynomial 0x8005 reflected (0xA001), initial value 0xFFFF, no final
// XOR; sent low byte first. Check value: the ASCII bytes "123456789" give 0x4B37.

const TABLE = Array.from({ length: 256 }, (_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  return crc;
});

export function crc16Modbus(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) crc = (crc >>> 8) ^ (TABLE[(crc ^ byte) & 0xff] ?? 0);
  return crc;
}

/** `body` followed by its CRC, low byte first (spec §10.2). */
export function withCrc(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(body.length + 2);
  frame.set(body);
  frame.writeUInt16LE(crc16Modbus(body), body.length);
  return frame;
}

/** Whether the last two bytes of `frame` are the CRC of the rest (spec §10.2). */
export function hasValidCrc(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const body = frame.subarray(0, frame.length - 2);
  const sent = (frame[frame.length - 2] ?? 0) | ((frame[frame.length - 1] ?? 0) << 8);
  return crc16Modbus(body) === sent;
}
