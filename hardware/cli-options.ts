// The emulator's command line (spec §21): every option, its default, and the checks that refuse a bad one.
import { parseArgs } from 'node:util';
import { HardwareError } from './errors.js';
import { type ProgramSegment, STANDARD_FIRING, parseProgram } from './firing-program.js';
import { SETPOINT_RANGE_C } from './modbus/register-map.js';
import { FAULT_KINDS, type Protocol, type ScenarioEvent, assertScenarioFits, parseScenario } from './scenario.js';

export type TransportKind = 'pty' | 'tcp' | 'stdio';

export interface EmulatorConfig {
  protocol: Protocol;
  transport: TransportKind;
  link: string;
  host: string;
  port: number;
  intervalMs: number;
  speed: number;
  seed: number;
  setpoint: number;
  program: ProgramSegment[] | undefined;
  scenario: ScenarioEvent[];
  /** The text of --scenario, for the log. */
  scenarioText: string;
  checksum: boolean;
  baudRate: number;
  slaveId: number;
  count: number;
}

/** Spec §2 and §9: the rates the devices can be set to. */
export const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const;

export const HELP = `furnace-emulator: an emulated furnace with a line sensor or a Modbus RTU controller
(the protocols are specified in hardware/README.md)

  --protocol line|modbus   line: one ASCII line per interval (spec §2-§7, default)
                           modbus: a Modbus RTU slave answering 03, 04, 06, 16 (spec §9-§16)
  --transport pty|tcp|stdio
                           pty: a socat pseudo-terminal pair; the agent opens --link (default)
                           tcp: a TCP port, raw bytes as ser2net sends them; the agent opens tcp://HOST:PORT
                           stdio: the bytes on standard output (requests on standard input), logs on standard error
  --link PATH              pty: the device path made for the agent (default ./data/serial/furnace-1)
  --port N                 tcp: the port to listen on (default 5020; 0 picks a free one)
  --host HOST              tcp: the address to listen on (default 127.0.0.1)
  --count N                furnaces in this process (default 1), for load tests: seeds SEED, SEED+1, ...;
                           pty links PATH-1, PATH-2, ...; tcp ports PORT, PORT+1, ... (or free ones with --port 0)
  --interval-ms N          ms between two lines, or between two register refreshes (default 1000)
  --speed N                simulated seconds per real second (default 1; 60 runs an hour a minute)
  --seed N                 fixes the whole series of readings and faults (default 1)
  --setpoint C             the controller's setpoint when no program runs, ${SETPOINT_RANGE_C.min} to ${SETPOINT_RANGE_C.max} (default 850)
  --program SPEC           a firing program (spec §18): ramp:TO:MINUTES,hold:MINUTES,...,cool
                           'standard' is ${STANDARD_FIRING}
  --scenario LIST          faults on a timeline (spec §19): NAME[@START][+DURATION],...
                           times in simulated seconds, or with s, m, h: tc-open@10m+2m,spikes
                           NAME: ${FAULT_KINDS.join(', ')}
  --checksum               line: end every line with *HH (spec §6)
  --baud N                 the line's rate, ${BAUD_RATES.join(', ')} (default 9600 line, 19200 modbus)
  --slave-id N             modbus: the slave address, 1 to 247 (default 1)
  --help                   this text
`;

const bad = (option: string, raw: string | undefined, why: string) =>
  new HardwareError('HARDWARE_BAD_OPTION', `--${option} ${JSON.stringify(raw ?? '')}: ${why}`);

function numberOption(option: string, raw: string, min: number, max: number, integer = false): number {
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw bad(option, raw, `expected ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

function oneOf<T extends string>(option: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) throw bad(option, raw, `expected ${allowed.join(' or ')}`);
  return raw as T;
}

/** argv as node's parseArgs reads it; throws HARDWARE_BAD_OPTION naming an unknown or incomplete option. */
function readArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        protocol: { type: 'string' },
        transport: { type: 'string' },
        link: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        count: { type: 'string' },
        'interval-ms': { type: 'string' },
        speed: { type: 'string' },
        seed: { type: 'string' },
        setpoint: { type: 'string' },
        program: { type: 'string' },
        scenario: { type: 'string' },
        checksum: { type: 'boolean' },
        baud: { type: 'string' },
        'slave-id': { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    // node's message names the option: "Unknown option '--bogus'", "Option '--seed <value>' argument missing".
    throw new HardwareError('HARDWARE_BAD_OPTION', (error as Error).message, { cause: error });
  }
}

type CliValues = ReturnType<typeof readArgs>;

/** Options that apply to one transport or protocol are refused with the others. */
function assertApplicable(values: CliValues, protocol: 'line' | 'modbus', transport: 'pty' | 'tcp' | 'stdio'): void {
  const only = (option: string, given: string | boolean | undefined, allowed: boolean, where: string) => {
    if (given === undefined || allowed) return;
    if (typeof given === 'boolean') throw new HardwareError('HARDWARE_BAD_OPTION', `--${option}: applies to ${where} only`);
    throw bad(option, given, `applies to ${where} only`);
  };
  only('link', values.link, transport === 'pty', '--transport pty');
  only('port', values.port, transport === 'tcp', '--transport tcp');
  only('host', values.host, transport === 'tcp', '--transport tcp');
  only('checksum', values.checksum, protocol === 'line', '--protocol line');
  only('slave-id', values['slave-id'], protocol === 'modbus', '--protocol modbus');
}

/** --program and --scenario, parsed into `config`; a problem names its option. */
function addProgramAndScenario(config: EmulatorConfig, values: CliValues): void {
  try {
    if (values.program !== undefined) config.program = parseProgram(values.program);
  } catch (error) {
    throw bad('program', values.program, (error as Error).message);
  }
  try {
    config.scenario = parseScenario(config.scenarioText);
    assertScenarioFits(config.scenario, config.protocol, config.checksum);
  } catch (error) {
    throw bad('scenario', values.scenario, (error as Error).message);
  }
}

/** Reads argv; `undefined` means --help was asked for. Throws HARDWARE_BAD_OPTION naming the option. */
export function parseCliOptions(argv: string[]): EmulatorConfig | undefined {
  const values = readArgs(argv);
  if (values.help) return undefined;
  const protocol = oneOf('protocol', values.protocol ?? 'line', ['line', 'modbus'] as const);
  const transport = oneOf('transport', values.transport ?? 'pty', ['pty', 'tcp', 'stdio'] as const);
  assertApplicable(values, protocol, transport);
  const count = numberOption('count', values.count ?? '1', 1, 1000, true);
  if (transport === 'stdio' && count > 1) throw bad('count', values.count, 'stdio carries one furnace only');
  const port = numberOption('port', values.port ?? '5020', 0, 65_535, true);
  if (port > 0 && port + count - 1 > 65_535) throw bad('port', values.port, `ports ${port} to ${port + count - 1} do not all exist`);
  const checksum = values.checksum ?? false;
  const config: EmulatorConfig = {
    protocol,
    transport,
    link: values.link ?? './data/serial/furnace-1',
    host: values.host ?? '127.0.0.1',
    port,
    count,
    intervalMs: numberOption('interval-ms', values['interval-ms'] ?? '1000', 1, 3_600_000),
    speed: numberOption('speed', values.speed ?? '1', 0.001, 1_000_000),
    seed: numberOption('seed', values.seed ?? '1', 0, 2 ** 32 - 1, true),
    setpoint: numberOption('setpoint', values.setpoint ?? '850', SETPOINT_RANGE_C.min, SETPOINT_RANGE_C.max),
    program: undefined,
    scenario: [],
    scenarioText: values.scenario ?? '',
    checksum,
    baudRate: Number(oneOf('baud', values.baud ?? (protocol === 'line' ? '9600' : '19200'), BAUD_RATES.map(String))),
    slaveId: numberOption('slave-id', values['slave-id'] ?? '1', 1, 247, true),
  };
  addProgramAndScenario(config, values);
  return config;
}
