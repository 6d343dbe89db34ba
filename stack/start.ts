#!/usr/bin/env node
// `npm start`: the whole stack on this machine — broker, backend on SQLite, an emulated
// furnace and an agent reading it through the same serial code a real port uses.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Closers } from '../contract/closers.js';
import { type StackChild, startChild } from './child-process.js';
import { ensureDemoCredentials } from './demo-credentials.js';
import { describeFirstReading, startClock, waitForFirstStoredReading } from './first-reading.js';
import { DEMO_SETPOINT_C, demoEmulatorArgs, demoScenario, describeDemoCycle, ensureDemoRules } from './demo-rules.js';
import { startInProcessPair } from './in-process-pair.js';
import { formatLogLine } from './log-format.js';
import { PortUnavailableError, assertPortFree } from './ports.js';

const HELP = `npm start [-- options]: run broker, backend, an emulated furnace and an agent

  --mqtt-port N       MQTT port, default 1883            (env FURNACE_MQTT_PORT)
  --http-port N       HTTP API port, default 8080        (env FURNACE_HTTP_PORT)
  --agent-health-port N  the agent's /healthz and /metrics, default 9100 (env FURNACE_AGENT_HEALTH_PORT)
  --data-dir DIR      where state lives, default ./data  (env FURNACE_DATA_DIR)
  --serial MODE       auto (default), pty (socat) or in-process (serialport's mock binding)
  --interval-ms N     milliseconds between readings, default 1000
  --speed N           simulated seconds per real second, default 60 (a firing in minutes;
                      the demo's overheat, which trips an alert, comes every 3 minutes at 60)
  --store KIND        where the backend stores readings: sqlite (default) or influxdb
  --influx-url URL    with --store influxdb: the InfluxDB, default http://localhost:8086; a token,
                      user or password come from the environment (FURNACE_BACKEND_STORE_INFLUX_TOKEN, ...)
  --influx-write-mode MODE  auto (default), v1 (InfluxDB before 1.8) or v2
  --influx-database DB  database for writes (v1) and queries, default furnace
  --json              print the parts' JSON logs as they are
  --help              this text
`;

const DEVICE = 'furnace-1';
const FIRST_READING_TIMEOUT_MS = 15_000;
const distDir = resolve(fileURLToPath(import.meta.url), '..', '..');

class StartError extends Error {}

/** Every part started, each stop registered as it starts: stopped newest first. */
const parts = new Closers();
let stopping = false;

/** Stops every part, newest first, then exits. */
async function shutdown(code: number, reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\nstopping the stack (${reason})\n`);
  await parts.close().catch((error: unknown) => process.stderr.write(`npm start: stopping a part failed: ${(error as Error).message}\n`));
  process.exit(code);
}

function integer(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StartError(`${name} ${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
  }
  return value;
}

/** The backend's store flags; the backend checks their values and names a bad one. */
function storeArgs(values: {
  store: string;
  'influx-url'?: string | undefined;
  'influx-write-mode'?: string | undefined;
  'influx-database'?: string | undefined;
}): string[] {
  if (values.store !== 'sqlite' && values.store !== 'influxdb')
    throw new StartError(`--store ${JSON.stringify(values.store)}: expected sqlite or influxdb`);
  const flags: Array<[string, string | undefined]> = [
    ['--influx-url', values['influx-url']],
    ['--influx-write-mode', values['influx-write-mode']],
    ['--influx-database', values['influx-database']],
  ];
  return ['--store', values.store, ...flags.flatMap(([flag, value]) => (value === undefined ? [] : [flag, value]))];
}

function hasSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).error === undefined;
}

type StackOptions = NonNullable<ReturnType<typeof parseOptions>>;

/** The command line, checked; `undefined` after --help. */
function parseOptions() {
  const { values } = parseArgs({
    options: {
      'mqtt-port': { type: 'string', default: process.env.FURNACE_MQTT_PORT ?? '1883' },
      'http-port': { type: 'string', default: process.env.FURNACE_HTTP_PORT ?? '8080' },
      'agent-health-port': { type: 'string', default: process.env.FURNACE_AGENT_HEALTH_PORT ?? '9100' },
      'data-dir': { type: 'string', default: process.env.FURNACE_DATA_DIR ?? './data' },
      serial: { type: 'string', default: 'auto' },
      'interval-ms': { type: 'string', default: '1000' },
      speed: { type: 'string', default: '60' },
      store: { type: 'string', default: 'sqlite' },
      'influx-url': { type: 'string' },
      'influx-write-mode': { type: 'string' },
      'influx-database': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return undefined;
  }
  const mqttPort = integer('--mqtt-port', values['mqtt-port'], 1, 65_535);
  const httpPort = integer('--http-port', values['http-port'], 1, 65_535);
  const healthPort = integer('--agent-health-port', values['agent-health-port'], 1, 65_535);
  const intervalMs = integer('--interval-ms', values['interval-ms'], 10, 3_600_000);
  const speed = integer('--speed', values.speed, 1, 100_000);
  const dataDir = resolve(values['data-dir']);
  if (!['auto', 'pty', 'in-process'].includes(values.serial)) {
    throw new StartError(`--serial ${JSON.stringify(values.serial)}: expected auto, pty or in-process`);
  }
  const usePty = values.serial === 'pty' || (values.serial === 'auto' && hasSocat());
  return { values, mqttPort, httpPort, healthPort, intervalMs, speed, dataDir, usePty };
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (!options) return;
  const { values, mqttPort, httpPort, healthPort } = options;
  await assertPortFree(mqttPort, '0.0.0.0', 'MQTT');
  await assertPortFree(httpPort, '0.0.0.0', 'HTTP API');
  await assertPortFree(healthPort, '0.0.0.0', 'agent health');
  const print = (part: string) => (line: string) => {
    process.stdout.write(`${values.json ? line : formatLogLine(line, part)}\n`);
  };
  const run: RunPart = (name, script, args, env = {}) => {
    const child = startChild(name, join(distDir, script), args, print(name), env);
    parts.add(() => child.stop());
    child.process.once('exit', (code, signal) => {
      // A part that exits on its own (a signal to the whole group, a crash) stops the rest; a clean exit asks for a clean stop.
      if (!stopping) void shutdown(code === 0 ? 0 : 1, `${name} exited with ${signal ?? `code ${code}`}`);
    });
    return child;
  };
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
  const rulesPath = await startParts(options, run, print);
  const firstReading = describeFirstReading(
    startClock(),
    await waitForFirstStoredReading(httpPort, FIRST_READING_TIMEOUT_MS),
    FIRST_READING_TIMEOUT_MS,
  );
  process.stdout.write(banner(options, firstReading, rulesPath));
}

type RunPart = (name: string, script: string, args: string[], env?: NodeJS.ProcessEnv) => StackChild;
type Print = (part: string) => (line: string) => void;

/** Broker, backend, emulator and agent, each after what it needs; answers the rules file's path. */
async function startParts(options: StackOptions, run: RunPart, print: Print): Promise<string> {
  const { values, mqttPort, httpPort, healthPort, intervalMs, speed, dataDir, usePty } = options;
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  // The emulated furnace needs nothing else: it starts beside the broker and backend instead of
  // after them, one process start fewer before the first reading. Its failure is awaited below.
  const link = join(dataDir, 'serial', DEVICE);
  const emulatorReady = usePty
    ? run('emulator', 'hardware/cli.js', [
        '--link',
        link,
        '--interval-ms',
        String(intervalMs),
        '--speed',
        String(speed),
        ...demoEmulatorArgs(),
      ]).waitForLine(/emulator ready/, 30_000)
    : undefined;
  void emulatorReady?.catch(() => undefined);
  const credentials = ensureDemoCredentials(dataDir, DEVICE, join(distDir, 'broker', 'cli.js'));
  const agentEnv = { FURNACE_AGENT_MQTT_USERNAME: credentials.agent.username, FURNACE_AGENT_MQTT_PASSWORD: credentials.agent.password };
  await run('broker', 'broker/cli.js', ['--port', String(mqttPort), '--password-file', credentials.passwordFile]).waitForLine(
    /MQTT listener ready/,
    15_000,
  );
  // The demo's API answers without a token (the backend logs a warning saying so); a plant sets auth.tokens.
  const backendArgs = [
    '--port',
    String(httpPort),
    '--mqtt-url',
    mqttUrl,
    '--data-dir',
    join(dataDir, 'backend'),
    '--open-access',
    ...storeArgs(values),
  ];
  // The demo rules are copied once; after that the copy is the operator's (and PUT /api/v1/rules rewrites it).
  const rules = ensureDemoRules(dataDir);
  print('stack')(
    JSON.stringify({
      level: 30,
      time: Date.now(),
      part: 'stack',
      msg: rules.created ? 'demo alert rules copied' : 'alert rules kept from an earlier start',
      rulesFile: rules.path,
    }),
  );
  const backendEnv = {
    FURNACE_BACKEND_MQTT_USERNAME: credentials.backend.username,
    FURNACE_BACKEND_MQTT_PASSWORD: credentials.backend.password,
    FURNACE_BACKEND_ALERTS_RULES_FILE: rules.path,
  };
  await run('backend', 'backend/cli.js', backendArgs, backendEnv).waitForLine(/HTTP API ready/, 15_000);
  const agentArgs = ['--device', DEVICE, '--mqtt-url', mqttUrl, '--data-dir', join(dataDir, 'agent'), '--health-port', String(healthPort)];
  if (usePty) {
    await emulatorReady;
    await run('agent', 'agent/cli.js', [...agentArgs, '--serial-path', link], agentEnv).waitForLine(/agent started/, 15_000);
  } else {
    startPair(options, { mqttUrl, agentEnv, print });
  }
  return rules.path;
}

/** Emulator and agent in this process, joined through serialport's mock binding. */
function startPair(
  options: StackOptions,
  { mqttUrl, agentEnv, print }: { mqttUrl: string; agentEnv: NodeJS.ProcessEnv; print: Print },
): void {
  const { values, healthPort, intervalMs, speed, dataDir } = options;
  const why = values.serial === 'in-process' ? '--serial in-process' : 'socat not found (Debian package socat)';
  print('stack')(
    JSON.stringify({
      level: 40,
      time: Date.now(),
      part: 'stack',
      msg: `${why}: emulator and agent are joined in-process through serialport's mock binding`,
    }),
  );
  const pair = startInProcessPair({
    device: DEVICE,
    mqttUrl,
    env: agentEnv,
    healthPort,
    dataDir: join(dataDir, 'agent'),
    intervalMs,
    speed,
    setpoint: DEMO_SETPOINT_C,
    scenario: demoScenario(),
    print: print('agent'),
  });
  parts.add(() => pair.stop());
}

function banner(options: StackOptions, firstReading: string, rulesPath: string): string {
  const { values, mqttPort, httpPort, healthPort, speed, dataDir, usePty } = options;
  return [
    '',
    'Furnace telemetry is running.',
    `  first reading: ${firstReading}`,
    `  dashboard: http://localhost:${httpPort}/`,
    `  devices:   http://localhost:${httpPort}/api/v1/devices`,
    `  latest:    http://localhost:${httpPort}/api/v1/devices/${DEVICE}/latest`,
    `  metrics:   http://localhost:${httpPort}/metrics`,
    `  alerts:    http://localhost:${httpPort}/api/v1/alerts/active  (history: /api/v1/alerts)`,
    `  stream:    http://localhost:${httpPort}/api/v1/alerts/stream  (server-sent events; on MQTT: alerts/v1/#)`,
    `  rules:     ${rulesPath}  (${describeDemoCycle(speed)})`,
    `  agent:     http://localhost:${healthPort}/healthz  (and /metrics)`,
    `  MQTT:      mqtt://localhost:${mqttPort}  (telemetry/v1/${DEVICE}/readings; users and passwords in ${join(dataDir, 'broker', 'demo-passwords.json')})`,
    `  data:      ${dataDir}`,
    `  readings:  ${values.store === 'influxdb' ? `InfluxDB at ${values['influx-url'] ?? 'http://localhost:8086'}, measurement "readings"` : `SQLite ${join(dataDir, 'backend')}`}`,
    `  serial:    ${usePty ? `socat pseudo-terminal ${join(dataDir, 'serial', DEVICE)}` : 'in-process mock binding'}`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start: ${(error as Error).message}\n`);
  const usage = error instanceof StartError || error instanceof PortUnavailableError;
  void shutdown(usage ? 2 : 1, 'start-up failed');
});
