// The Modbus controller read by an independent client, modbus-serial, through a real link:
// RTU over a socat pseudo-terminal (serialport underneath), and RTU over TCP (a ser2net-style
// port). For the latter modbus-serial's client is its TelnetPort ("TCP/IP serial bridge"), which
// sends RTU frames as they are; its TcpRTUBufferedPort speaks Modbus TCP (MBAP headers) instead.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import modbusSerial from 'modbus-serial';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWithProgram } from '../test/helpers/require-program.js';
import { ModbusEmulator } from './modbus-emulator.js';
import { StatusBit } from './modbus/register-map.js';
import { parseScenario } from './scenario.js';
import { openPtyTransport } from './transports/pty-transport.js';
import { openTcpTransport } from './transports/tcp-transport.js';
import type { EmulatorTransport } from './transports/transport.js';

// modbus-serial is CommonJS and its types say `export default`: under NodeNext the class is the
// default export's `default`, which the package also sets at run time (module.exports.default).
const ModbusRTU = modbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusRTU>;

type Connect = (client: ModbusRTU, transport: EmulatorTransport) => Promise<void>;
type OpenTransport = (dir: string) => Promise<EmulatorTransport & { port?: number }>;

// The interval never elapses during a test: tick() advances 10 simulated seconds (3600 s × 1/360).
const MANUAL_TIME = { intervalMs: 3_600_000, speed: 1 / 360 } as const;

/** The error modbus-serial rejected with: its Modbus exception code, or its errno for a timeout. */
async function failure(request: Promise<unknown>): Promise<{ modbusCode?: number; errno?: string; message: string }> {
  try {
    await request;
  } catch (error) {
    return error as { modbusCode?: number; errno?: string; message: string };
  }
  throw new Error('the request succeeded');
}

function modbusSuite(openTransport: OpenTransport, connectClient: Connect): void {
  let dir: string;
  let transport: EmulatorTransport | undefined;
  let emulator: ModbusEmulator | undefined;
  let client: ModbusRTU | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'modbus-link-'));
  });
  afterEach(async () => {
    if (client?.isOpen) await new Promise((resolve) => client?.close(resolve));
    client = undefined;
    emulator?.stop();
    await transport?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(scenario = '', slaveId = 1): Promise<{ device: ModbusEmulator; master: ModbusRTU }> {
    transport = await openTransport(dir);
    emulator = new ModbusEmulator({ seed: 3, setpoint: 400, ...MANUAL_TIME, slaveId, scenario: parseScenario(scenario), link: transport });
    emulator.start();
    client = new ModbusRTU();
    await connectClient(client, transport);
    client.setID(slaveId);
    client.setTimeout(2000);
    return { device: emulator, master: client };
  }

  it('reads PV as int16 and as float; the ramp reaches the setpoint within tolerance', async () => {
    const { device, master } = await start();
    const pv = async () => {
      const { buffer } = await master.readInputRegisters(0, 3);
      return { tenths: buffer.readInt16BE(0) / 10, float: buffer.readFloatBE(2) };
    };
    const cold = await pv();
    expect(cold.tenths).toBeLessThan(30);
    for (let i = 0; i < 360; i++) device.tick(); // one simulated hour
    const hot = await pv();
    expect(Math.abs(hot.tenths - 400)).toBeLessThan(2);
    expect(Math.abs(hot.float - hot.tenths)).toBeLessThanOrEqual(0.05);
    expect((await master.readInputRegisters(4, 1)).data[0]).toBe(StatusBit.OUTPUT_ON);
  });

  it('writes the setpoint with 06 and with 16 (as a float), and reads it back with 03', async () => {
    const { device, master } = await start();
    await master.writeRegister(0, 6125); // 612.5 °C
    expect(device.furnace.model.setpoint).toBe(612.5);
    expect((await master.readHoldingRegisters(0, 1)).data).toEqual([6125]);
    const float = Buffer.alloc(4);
    float.writeFloatBE(737.25);
    await master.writeRegisters(1, [9000, float.readUInt16BE(0), float.readUInt16BE(2)]);
    const { buffer } = await master.readHoldingRegisters(0, 4);
    expect([buffer.readInt16BE(0), buffer.readInt16BE(2), buffer.readFloatBE(4)]).toEqual([7373, 9000, 737.25]);
  });

  it('answers exception 02 for an illegal address and 03 for a value out of range (spec §15)', async () => {
    const { master } = await start();
    expect(await failure(master.readInputRegisters(5, 2))).toMatchObject({ modbusCode: 2 });
    expect(await failure(master.readHoldingRegisters(4, 1))).toMatchObject({ modbusCode: 2 });
    expect(await failure(master.writeRegister(0, 20_000))).toMatchObject({ modbusCode: 3 });
    // And still answers afterwards.
    expect((await master.readHoldingRegisters(0, 1)).data).toEqual([4000]);
  });

  it('stays silent to another slave id, so the master times out (spec §9)', async () => {
    const { master } = await start('', 7);
    master.setID(8);
    master.setTimeout(300);
    expect(await failure(master.readInputRegisters(0, 1))).toMatchObject({ errno: 'ETIMEDOUT' });
    master.setID(7);
    master.setTimeout(2000);
    expect((await master.readInputRegisters(0, 1)).data).toHaveLength(1);
  });

  it('shows busy, CRC errors, a stall and an open thermocouple as the spec says (spec §19.3)', async () => {
    const { device, master } = await start('busy@0+10,crc-errors@10+10,stall@20+10,tc-open@30+10');
    expect(await failure(master.readInputRegisters(0, 1))).toMatchObject({ modbusCode: 6 });
    expect(await failure(master.writeRegister(0, 5000))).toMatchObject({ modbusCode: 6 });
    device.tick();
    expect(await failure(master.readInputRegisters(0, 1))).toMatchObject({ message: 'CRC error' });
    device.tick();
    master.setTimeout(300);
    expect(await failure(master.readInputRegisters(0, 1))).toMatchObject({ errno: 'ETIMEDOUT' });
    master.setTimeout(2000);
    device.tick();
    const { buffer } = await master.readInputRegisters(0, 5);
    expect(buffer.readInt16BE(0)).toBe(-32768);
    expect(buffer.readFloatBE(2)).toBeNaN();
    expect(buffer.readUInt16BE(8) & 0x0f).toBe(StatusBit.SENSOR_FAULT | StatusBit.TC_OPEN);
    device.tick();
    expect((await master.readInputRegisters(0, 1)).buffer.readInt16BE(0)).toBeGreaterThan(150);
  });
}

describeWithProgram('socat', 'socat', 'Modbus RTU over a pseudo-terminal, read by modbus-serial', () =>
  modbusSuite(
    (dir) => openPtyTransport({ link: join(dir, 'rs485') }),
    (client, transport) => client.connectRTUBuffered(transport.devicePath, { baudRate: 19200, parity: 'even' }),
  ),
);

describe('Modbus RTU over TCP, read by modbus-serial', () => {
  modbusSuite(
    () => openTcpTransport({ port: 0 }),
    async (client, transport) => {
      const { port } = transport as EmulatorTransport & { port: number };
      await client.connectTelnet('127.0.0.1', { port });
    },
  );
});
