// The emulated controller's registers (spec §12 to §14).
import type { Furnace, SensorSample } from '../furnace.js';

/** Spec §15: the exception codes this device answers with. */
export const ModbusException = {
  IllegalFunction: 0x01,
  IllegalDataAddress: 0x02,
  IllegalDataValue: 0x03,
  DeviceBusy: 0x06,
} as const;
export type ModbusExceptionCode = (typeof ModbusException)[keyof typeof ModbusException];

/** Spec §12: input registers (function 04), 0-based protocol addresses. */
export const InputRegister = { PV: 0, PV_FLOAT: 1, COLD_JUNCTION: 3, STATUS: 4, OUTPUT: 5 } as const;
export const INPUT_REGISTER_COUNT = 6;

/** Spec §13: holding registers (functions 03, 06, 16). */
export const HoldingRegister = { SETPOINT: 0, ALARM_HIGH: 1, SETPOINT_FLOAT: 2 } as const;
export const HOLDING_REGISTER_COUNT = 4;

/** Spec §14: the bits of the status register. */
export const StatusBit = {
  SENSOR_FAULT: 1 << 0,
  TC_OPEN: 1 << 1,
  TC_SHORT_GND: 1 << 2,
  TC_SHORT_VCC: 1 << 3,
  ALARM_HIGH: 1 << 4,
  OUTPUT_ON: 1 << 5,
  PROGRAM_RUNNING: 1 << 6,
  HEATER_BURNOUT: 1 << 7,
} as const;

/** Spec §12: the int16 a register holds when there is no value (sensor fault, heater off). */
export const NO_VALUE = 0x8000;

/** Spec §13: what a written setpoint and alarm limit may be, °C. */
export const SETPOINT_RANGE_C = { min: 0, max: 1300 } as const;
export const ALARM_RANGE_C = { min: 0, max: 1800 } as const;

/** Spec §12: °C as a signed 16-bit count of tenths, as the register's unsigned 16 bits. */
export function tenths(celsius: number | undefined): number {
  if (celsius === undefined || !Number.isFinite(celsius)) return NO_VALUE;
  return Math.min(Math.max(Math.round(celsius * 10), -32767), 32767) & 0xffff;
}

/** The signed value of a register holding tenths, in °C. */
export function fromTenths(register: number): number {
  return (register >= 0x8000 ? register - 0x10000 : register) / 10;
}

/** Spec §12: an IEEE-754 single across two registers, high word first. */
export function floatWords(value: number): [number, number] {
  const bytes = Buffer.alloc(4);
  bytes.writeFloatBE(value);
  return [bytes.readUInt16BE(0), bytes.readUInt16BE(2)];
}

export function wordsToFloat(high: number, low: number): number {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16BE(high, 0);
  bytes.writeUInt16BE(low, 2);
  return bytes.readFloatBE(0);
}

/** The register tables of one emulated controller; the input registers are refreshed once per model tick. */
export class ControllerRegisters {
  /** Spec §13: the high alarm limit, °C. */
  alarmHighC = 1300;
  private input: number[] = new Array<number>(INPUT_REGISTER_COUNT).fill(0);

  constructor(private readonly furnace: Furnace) {}

  /** Spec §12, §14: the input registers from a new sample and the controller's state. */
  refresh(sample: SensorSample): void {
    const model = this.furnace.model;
    const pv = sample.kind === 'value' ? sample.celsius : undefined;
    let status = 0;
    if (sample.kind === 'fault') {
      status |= StatusBit.SENSOR_FAULT;
      switch (sample.fault) {
        case 'OPEN':
          status |= StatusBit.TC_OPEN;
          break;
        case 'SHORT_GND':
          status |= StatusBit.TC_SHORT_GND;
          break;
        case 'SHORT_VCC':
          status |= StatusBit.TC_SHORT_VCC;
          break;
      }
    }
    if (pv !== undefined && pv > this.alarmHighC) status |= StatusBit.ALARM_HIGH;
    if (model.output > 0) status |= StatusBit.OUTPUT_ON;
    if (model.programRunning) status |= StatusBit.PROGRAM_RUNNING;
    // A controller with a heater-current input sees its output on and no current flowing.
    if (model.heater === 'failed' && model.output > 0) status |= StatusBit.HEATER_BURNOUT;
    this.input = [tenths(pv), ...floatWords(pv ?? Number.NaN), tenths(sample.coldJunction), status, Math.round(model.output * 1000)];
  }

  readInput(address: number, count: number): number[] {
    return this.input.slice(address, address + count);
  }

  /** Spec §13: the holding registers as they read now. */
  readHolding(address: number, count: number): number[] {
    const setpoint = this.furnace.model.workingSetpoint;
    const table = [tenths(setpoint), tenths(this.alarmHighC), ...floatWords(setpoint ?? Number.NaN)];
    return table.slice(address, address + count);
  }

  /**
   * Spec §13: writes `values` from `address` on, all or nothing, in ascending order. The caller
   * has checked the addresses lie in the table.
   */
  writeHolding(address: number, values: readonly number[]): ModbusExceptionCode | undefined {
    const end = address + values.length;
    const covers = (register: number) => register >= address && register < end;
    // The float's two halves are written together or not at all.
    if (covers(HoldingRegister.SETPOINT_FLOAT) !== covers(HoldingRegister.SETPOINT_FLOAT + 1)) {
      return ModbusException.IllegalDataAddress;
    }
    const at = (register: number) => values[register - address] ?? 0;
    const writes: Array<() => void> = [];
    const inRange = (celsius: number, range: { min: number; max: number }) => celsius >= range.min && celsius <= range.max;
    if (covers(HoldingRegister.SETPOINT)) {
      const celsius = fromTenths(at(HoldingRegister.SETPOINT));
      if (!inRange(celsius, SETPOINT_RANGE_C)) return ModbusException.IllegalDataValue;
      writes.push(() => (this.furnace.model.setpoint = celsius));
    }
    if (covers(HoldingRegister.ALARM_HIGH)) {
      const celsius = fromTenths(at(HoldingRegister.ALARM_HIGH));
      if (!inRange(celsius, ALARM_RANGE_C)) return ModbusException.IllegalDataValue;
      writes.push(() => (this.alarmHighC = celsius));
    }
    if (covers(HoldingRegister.SETPOINT_FLOAT)) {
      const celsius = wordsToFloat(at(HoldingRegister.SETPOINT_FLOAT), at(HoldingRegister.SETPOINT_FLOAT + 1));
      if (!inRange(celsius, SETPOINT_RANGE_C)) return ModbusException.IllegalDataValue;
      writes.push(() => (this.furnace.model.setpoint = celsius));
    }
    writes.forEach((write) => write());
    return undefined;
  }
}
