import { beforeEach, describe, expect, it } from 'vitest';
import { Furnace } from '../furnace.js';
import { withCrc } from './crc16.js';
import { ModbusSlave } from './modbus-slave.js';
import { ControllerRegisters, StatusBit } from './register-map.js';

const hex = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');
/** The request `body` with its CRC. */
const request = (body: string) => withCrc(hex(body));
/** The expected response: `body` with its CRC, as hex. */
const reply = (body: string) => withCrc(hex(body)).toString('hex');

describe('ModbusSlave (spec §9 to §15)', () => {
  let furnace: Furnace;
  let registers: ControllerRegisters;
  let slave: ModbusSlave;
  const answer = (body: string, busy = false) => slave.handle(request(body), busy)?.toString('hex');

  beforeEach(() => {
    furnace = new Furnace({ seed: 1, setpoint: 850 });
    registers = new ControllerRegisters(furnace);
    registers.refresh({ kind: 'value', celsius: 812.5, coldJunction: 24.1 });
    slave = new ModbusSlave({ slaveId: 1, registers });
  });

  it('04 reads PV as int16 × 10, PV as a float (high word first), the cold junction (spec §12)', () => {
    // 812.5 °C: 8125 = 0x1FBD; float 0x444B2000; 24.1 °C: 241 = 0x00F1.
    expect(answer('01 04 00 00 00 04')).toBe(reply('01 04 08 1FBD 444B 2000 00F1'));
    expect(answer('01 04 00 01 00 02')).toBe(reply('01 04 04 444B 2000'));
  });

  it("04 reads negative temperatures as two's complement", () => {
    registers.refresh({ kind: 'value', celsius: -12.3, coldJunction: -5 });
    expect(answer('01 04 00 00 00 01')).toBe(reply('01 04 02 FF85'));
    expect(answer('01 04 00 03 00 01')).toBe(reply('01 04 02 FFCE'));
  });

  it('04 on a thermocouple fault: PV 0x8000, NaN, the fault bits (spec §12, §14)', () => {
    registers.refresh({ kind: 'fault', fault: 'OPEN', coldJunction: 24.1 });
    const status = StatusBit.SENSOR_FAULT | StatusBit.TC_OPEN;
    expect(answer('01 04 00 00 00 05')).toBe(reply(`01 04 0A 8000 7FC0 0000 00F1 ${status.toString(16).padStart(4, '0')}`));
  });

  it('03 reads the setpoint, the alarm limit and the setpoint as a float (spec §13)', () => {
    // 850.0 = 8500 = 0x2134; 1300.0 = 13000 = 0x32C8; float 850 = 0x44548000.
    expect(answer('01 03 00 00 00 04')).toBe(reply('01 03 08 2134 32C8 4454 8000'));
  });

  it('06 writes the setpoint and echoes the request', () => {
    expect(answer('01 06 00 00 1F 40')).toBe(reply('01 06 00 00 1F 40'));
    expect(furnace.model.setpoint).toBe(800);
    expect(answer('01 03 00 02 00 02')).toBe(reply('01 03 04 4448 0000'));
  });

  it('16 writes the setpoint as a float and the alarm limit, and answers address and quantity', () => {
    // alarm 900.0 = 0x2328; setpoint float 612.5 = 0x44192000.
    expect(answer('01 10 00 01 00 03 06 2328 4419 2000')).toBe(reply('01 10 00 01 00 03'));
    expect(furnace.model.setpoint).toBe(612.5);
    expect(registers.alarmHighC).toBe(900);
  });

  it.each([
    ['01 (illegal function) for function 05', '01 05 00 00 FF 00', '01 85 01'],
    ['01 for an unknown code', '01 2B 0E 01 00', '01 AB 01'],
    ['02 (illegal data address) reading past the input table', '01 04 00 05 00 02', '01 84 02'],
    ['02 reading past the holding table', '01 03 00 04 00 01', '01 83 02'],
    ['02 writing past the holding table', '01 06 00 07 00 01', '01 86 02'],
    ['02 writing half the float', '01 06 00 02 44 48', '01 86 02'],
    ['02 writing the other half in a 16', '01 10 00 01 00 02 04 2328 4419', '01 90 02'],
    ['03 (illegal data value) for quantity 0', '01 04 00 00 00 00', '01 84 03'],
    ['03 for quantity 126', '01 03 00 00 00 7E', '01 83 03'],
    ['03 for a byte count that does not match', '01 10 00 00 00 01 04 2134', '01 90 03'],
    ['03 for a setpoint above 1300 °C', '01 06 00 00 32 D2', '01 86 03'],
    ['03 for a negative setpoint', '01 06 00 00 FF 9C', '01 86 03'],
  ])('answers exception %s (spec §15)', (_what, body, exception) => {
    expect(answer(body)).toBe(reply(exception));
  });

  it('changes nothing when a write of several registers is refused', () => {
    // alarm 900 is fine, the float 2000 °C is not.
    expect(answer('01 10 00 01 00 03 06 2328 44FA 0000')).toBe(reply('01 90 03'));
    expect(registers.alarmHighC).toBe(1300);
    expect(furnace.model.setpoint).toBe(850);
  });

  it('answers 06 (busy) to every request while busy, before any other check', () => {
    expect(answer('01 04 00 00 00 01', true)).toBe(reply('01 84 06'));
    expect(answer('01 2B 0E 01 00', true)).toBe(reply('01 AB 06'));
    expect(answer('01 06 00 00 1F 40', true)).toBe(reply('01 86 06'));
    expect(furnace.model.setpoint).toBe(850);
  });

  it('is silent on frames for another slave, even busy (spec §9)', () => {
    expect(answer('02 04 00 00 00 01')).toBeUndefined();
    expect(answer('F7 03 00 00 00 01', true)).toBeUndefined();
  });

  it('executes broadcast writes without answering, and ignores broadcast reads (spec §9)', () => {
    expect(answer('00 04 00 00 00 01')).toBeUndefined();
    expect(answer('00 06 00 00 1F 40')).toBeUndefined();
    expect(furnace.model.setpoint).toBe(800);
    expect(answer('00 06 00 00 FF FF')).toBeUndefined(); // refused (-0.1 °C), and still no answer
    expect(furnace.model.setpoint).toBe(800);
  });

  it('answers with its own configured address', () => {
    slave = new ModbusSlave({ slaveId: 247, registers });
    expect(answer('F7 04 00 00 00 01')).toBe(reply('F7 04 02 1FBD'));
    expect(answer('01 04 00 00 00 01')).toBeUndefined();
  });
});
