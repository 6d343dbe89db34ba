// A Modbus RTU slave: one request frame in, one response frame (or silence) out (spec §9 to §15).
import { withCrc } from './crc16.js';
import {
  type ControllerRegisters,
  HOLDING_REGISTER_COUNT,
  INPUT_REGISTER_COUNT,
  ModbusException,
  type ModbusExceptionCode,
} from './register-map.js';

/** Spec §11: the function codes this device implements. */
export const FunctionCode = {
  ReadHoldingRegisters: 0x03,
  ReadInputRegisters: 0x04,
  WriteSingleRegister: 0x06,
  WriteMultipleRegisters: 0x10,
} as const;

/** Spec §9: the broadcast address. */
export const BROADCAST_ADDRESS = 0;

type PduResult = { pdu: Buffer } | { exception: ModbusExceptionCode };

export interface SlaveOptions {
  /** Spec §9: 1 to 247. */
  slaveId: number;
  registers: ControllerRegisters;
}

export class ModbusSlave {
  constructor(private readonly options: SlaveOptions) {}

  /**
   * The response to `frame` (whose CRC the framer has checked), or `undefined` for silence:
   * spec §9 (frames for other slaves, broadcasts) and §15 (exceptions). `busy` answers every
   * request addressed to this slave with exception 06 (spec §19.3).
   */
  handle(frame: Buffer, busy = false): Buffer | undefined {
    const address = frame[0];
    const code = frame[1] ?? 0;
    const broadcast = address === BROADCAST_ADDRESS;
    // spec §9: silent on frames for other addresses, as on a shared bus.
    if (!broadcast && address !== this.options.slaveId) return undefined;
    // spec §9: a broadcast is only ever a write, and never answered.
    if (broadcast && code !== FunctionCode.WriteSingleRegister && code !== FunctionCode.WriteMultipleRegisters) return undefined;
    if (busy && !broadcast) return this.exception(code, ModbusException.DeviceBusy);
    const result = this.execute(code, frame.subarray(1, frame.length - 2));
    if (broadcast) return undefined;
    if ('exception' in result) return this.exception(code, result.exception);
    return withCrc(Buffer.concat([Buffer.from([this.options.slaveId]), result.pdu]));
  }

  /** Spec §15: the function code with its high bit set, then the exception code. */
  private exception(code: number, exception: ModbusExceptionCode): Buffer {
    return withCrc(Buffer.from([this.options.slaveId, (code | 0x80) & 0xff, exception]));
  }

  /** Spec §11, checked in the order of spec §15: function (01), structure (03), address (02), values (03). */
  private execute(code: number, pdu: Buffer): PduResult {
    const registers = this.options.registers;
    const word = (offset: number) => (pdu.length >= offset + 2 ? pdu.readUInt16BE(offset) : -1);
    switch (code) {
      case FunctionCode.ReadHoldingRegisters:
      case FunctionCode.ReadInputRegisters: {
        // spec §11.1: address, quantity 1 to 125.
        const [start, quantity] = [word(1), word(3)];
        if (pdu.length !== 5 || quantity < 1 || quantity > 125) return { exception: ModbusException.IllegalDataValue };
        const size = code === FunctionCode.ReadHoldingRegisters ? HOLDING_REGISTER_COUNT : INPUT_REGISTER_COUNT;
        if (start + quantity > size) return { exception: ModbusException.IllegalDataAddress };
        const values =
          code === FunctionCode.ReadHoldingRegisters ? registers.readHolding(start, quantity) : registers.readInput(start, quantity);
        const body = Buffer.alloc(2 + values.length * 2);
        body.writeUInt8(code, 0);
        body.writeUInt8(values.length * 2, 1);
        values.forEach((value, i) => body.writeUInt16BE(value, 2 + i * 2));
        return { pdu: body };
      }
      case FunctionCode.WriteSingleRegister: {
        // spec §11.2: the answer echoes the request.
        if (pdu.length !== 5) return { exception: ModbusException.IllegalDataValue };
        const start = word(1);
        if (start >= HOLDING_REGISTER_COUNT) return { exception: ModbusException.IllegalDataAddress };
        const failed = registers.writeHolding(start, [word(3)]);
        return failed ? { exception: failed } : { pdu: Buffer.from(pdu) };
      }
      case FunctionCode.WriteMultipleRegisters: {
        // spec §11.3: address, quantity 1 to 123, byte count 2 × quantity, the values.
        const [start, quantity, byteCount] = [word(1), word(3), pdu[5] ?? -1];
        if (quantity < 1 || quantity > 123 || byteCount !== quantity * 2 || pdu.length !== 6 + byteCount) {
          return { exception: ModbusException.IllegalDataValue };
        }
        if (start + quantity > HOLDING_REGISTER_COUNT) return { exception: ModbusException.IllegalDataAddress };
        const values = Array.from({ length: quantity }, (_, i) => pdu.readUInt16BE(6 + i * 2));
        const failed = registers.writeHolding(start, values);
        return failed ? { exception: failed } : { pdu: Buffer.from(pdu.subarray(0, 5)) };
      }
      default:
        return { exception: ModbusException.IllegalFunction };
    }
  }
}
