// furnace-emulator as a separate process, from the compiled dist/ (test/global-setup.ts builds it).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import modbusSerial from 'modbus-serial';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIST_DIR, startCli } from '../test/helpers/cli.js';
import { stopAllProcesses } from '../test/helpers/process.js';
import { describeWithProgram } from '../test/helpers/require-program.js';
import { waitFor } from '../test/helpers/wait-for.js';
import { LineEmulator } from './line-emulator.js';
import { FAULT_KINDS, parseScenario } from './scenario.js';

const CLI = join(DIST_DIR, 'hardware', 'cli.js');
// See modbus-over-links.test.ts: the class is the CommonJS default export's `default`.
const ModbusRTU = modbusSerial.default;

function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 10_000 }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

/** The JSON log line with `msg`, from a process's output lines. */
function logLine(lines: string[], msg: string): Record<string, unknown> {
  const line = lines.find((text) => text.includes(`"msg":"${msg}"`));
  if (!line) throw new Error(`no ${msg} line in:\n${lines.join('\n')}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe('furnace-emulator (spec §21)', () => {
  afterEach(async () => {
    await stopAllProcesses();
  });

  it('--help lists every option and every fault', async () => {
    const { code, stdout } = await runToEnd(['--help']);
    expect(code).toBe(0);
    const options = [
      'protocol',
      'transport',
      'link',
      'port',
      'host',
      'count',
      'interval-ms',
      'speed',
      'seed',
      'setpoint',
      'program',
      'scenario',
      'checksum',
      'baud',
      'slave-id',
      'help',
    ];
    options.forEach((option) => expect(stdout).toContain(`--${option}`));
    FAULT_KINDS.forEach((fault) => expect(stdout).toContain(fault));
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--seed'], "'--seed <value>' argument missing"],
    [['--seed', 'x'], '--seed "x": expected a whole number from 0 to 4294967295'],
    [['--protocol', 'canbus'], '--protocol "canbus": expected line or modbus'],
    [['--transport', 'usb'], '--transport "usb": expected pty or tcp or stdio'],
    [['--transport', 'tcp', '--port', '70000'], '--port "70000": expected a whole number from 0 to 65535'],
    [['--transport', 'tcp', '--port', '65535', '--count', '2'], '--port "65535": ports 65535 to 65536 do not all exist'],
    [['--link', 'x', '--transport', 'tcp'], '--link "x": applies to --transport pty only'],
    [['--protocol', 'modbus', '--slave-id', '248'], '--slave-id "248": expected a whole number from 1 to 247'],
    [['--slave-id', '5'], '--slave-id "5": applies to --protocol modbus only'],
    [['--protocol', 'modbus', '--checksum'], '--checksum: applies to --protocol line only'],
    [['--scenario', 'meltdown'], '--scenario "meltdown": scenario "meltdown": unknown fault "meltdown"'],
    [['--scenario', 'busy'], '--scenario "busy": scenario fault busy does not apply to the line protocol'],
    [['--program', 'ramp:5000:10'], '--program "ramp:5000:10": program "ramp:5000:10": ramp target °C "5000"'],
    [['--baud', '9601'], '--baud "9601": expected 1200 or 2400'],
    [['--transport', 'stdio', '--count', '2'], '--count "2": stdio carries one furnace only'],
    [['--interval-ms', '0'], '--interval-ms "0": expected a number from 1 to 3600000'],
    [['--setpoint', '2000'], '--setpoint "2000": expected a number from 0 to 1300'],
  ])('refuses %j with exit code 2 and a message naming the option', async (args, message) => {
    const { code, stderr } = await runToEnd(args);
    expect(code).toBe(2);
    expect(stderr).toContain('furnace-emulator: HARDWARE_BAD_OPTION: ');
    expect(stderr).toContain(message);
  });

  it('runs several Modbus furnaces on free TCP ports, each answering modbus-serial, and stops on SIGTERM', async () => {
    const proc = await startCli('emulator', [
      '--protocol',
      'modbus',
      '--transport',
      'tcp',
      '--port',
      '0',
      '--count',
      '3',
      '--slave-id',
      '17',
      '--setpoint',
      '300',
    ]);
    const ready = logLine(proc.lines, 'emulator ready');
    const devicePaths = ready.devicePaths as string[];
    expect(devicePaths).toHaveLength(3);
    expect(ready.devicePath).toBe(devicePaths[0]);
    expect(proc.lines.filter((line) => line.includes('"msg":"furnace ready"'))).toHaveLength(3);
    for (const devicePath of devicePaths) {
      const client = new ModbusRTU();
      await client.connectTelnet('127.0.0.1', { port: Number(new URL(devicePath).port) });
      client.setID(17);
      client.setTimeout(2000);
      expect((await client.readHoldingRegisters(0, 1)).data).toEqual([3000]);
      await new Promise((resolve) => client.close(resolve));
    }
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
    expect(proc.lines.some((line) => line.includes('"msg":"emulator stopping"'))).toBe(true);
  });

  it("writes the seed's exact bytes on standard output, and its log on standard error", async () => {
    const args = [
      '--transport',
      'stdio',
      '--interval-ms',
      '2',
      '--speed',
      '300',
      '--seed',
      '3',
      '--checksum',
      '--scenario',
      'tc-short-vcc@30+60',
    ];
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitFor(() => Buffer.concat(out).toString('latin1').split('\r\n').length > 170, {
        timeoutMs: 10_000,
        what: '170 lines on stdout',
      });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(logLine(err.split('\n'), 'emulator ready')).toMatchObject({ devicePath: '-', protocol: 'line', transport: 'stdio' });
    const received = Buffer.concat(out);
    const sent: Buffer[] = [];
    const reference = new LineEmulator({
      seed: 3,
      intervalMs: 2,
      speed: 300,
      checksum: true,
      scenario: parseScenario('tc-short-vcc@30+60'),
      write: (data) => sent.push(data),
    });
    while (Buffer.concat(sent).length < received.length) reference.tick();
    expect(received).toEqual(Buffer.concat(sent).subarray(0, received.length));
    // 0.6 simulated s a line: the fault covers the 100 lines from 30 s to 89.4 s.
    expect(received.toString('latin1').match(/ERR=SHORT_VCC,CJ=\d+\.\d\*[0-9A-F]{2}\r\n/g)).toHaveLength(100);
  });
});

describeWithProgram('socat', 'socat', 'furnace-emulator on a pseudo-terminal, as npm start runs it', () => {
  let dir: string;
  let reader: SerialPort | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'emulator-cli-'));
  });
  afterEach(async () => {
    if (reader?.isOpen) await new Promise((resolve) => reader?.close(resolve));
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints emulator ready with the device path, and the agent side reads spec lines from it', async () => {
    const link = join(dir, 'serial', 'furnace-1');
    const proc = await startCli('emulator', ['--link', link, '--interval-ms', '20', '--speed', '60']);
    expect(logLine(proc.lines, 'emulator ready')).toMatchObject({ devicePath: link, protocol: 'line', transport: 'pty', speed: 60 });
    let text = '';
    reader = new SerialPort({ path: link, baudRate: 9600 });
    reader.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    await waitFor(() => text.split('\r\n').length > 6, { timeoutMs: 10_000, what: 'five lines from the pseudo-terminal' });
    // The first line may be cut: the reader opened while the emulator was writing.
    text
      .split('\r\n')
      .slice(1, 6)
      .forEach((line) => expect(line).toMatch(/^T=-?\d{1,4}\.\d,CJ=\d{1,3}\.\d$/));
  });

  it('makes one numbered link per furnace with --count', async () => {
    const link = join(dir, 'kiln');
    const proc = await startCli('emulator', ['--link', link, '--count', '2', '--protocol', 'modbus']);
    expect(logLine(proc.lines, 'emulator ready')).toMatchObject({ devicePath: `${link}-1`, devicePaths: [`${link}-1`, `${link}-2`] });
  });
});
