#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { type Logger, pino } from 'pino';
import { SettingsError } from '../contract/index.js';
import type { SettingsDeprecation } from '../contract/settings.js';
import { type RunningAgent, startAgent } from './agent.js';
import { loadAgentConfig, maskSecrets } from './config.js';
import { AgentError, type AgentErrorCode } from './errors.js';
import { onStopSignals } from '../contract/stop-signals.js';

const HELP = `furnace-agent: reads a furnace's serial sensors and publishes their readings over MQTT

  --config FILE        YAML settings (see agent/agent.example.yaml)
  --device ID          device id                       (env FURNACE_AGENT_DEVICE)
  --serial-path PATH   the default sensor's port: /dev/ttyUSB0, /dev/serial/by-id/...,
                       usb:VID:PID or tcp://host:port  (env FURNACE_AGENT_SERIAL_PATH)
  --mqtt-url URL       broker, e.g. mqtt://pi:1883     (env FURNACE_AGENT_MQTT_URL)
  --data-dir DIR       folder of the durable outbox    (env FURNACE_AGENT_DATA_DIR)
  --health-port N      /healthz and /metrics, default 9100, 0 any free port
                                                       (env FURNACE_AGENT_HEALTH_PORT)
  --print-config       print the settings in force (secrets masked) and exit
  --help               this text

Every setting can also come from FURNACE_AGENT_<KEY_PATH>, e.g. FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS.
Exit codes: 0 stopped cleanly, 1 could not run, 2 bad settings.
`;

/** Past the flush time, how much longer a stop may take before the process exits anyway. */
const STOP_MARGIN_MS = 5000;

function main(): void {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      device: { type: 'string' },
      'serial-path': { type: 'string' },
      'mqtt-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'health-port': { type: 'string' },
      'print-config': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  // Old setting names in use: said once the logger exists (its level is a setting too).
  const deprecations: SettingsDeprecation[] = [];
  const overrides = {
    device: values.device,
    'serial.path': values['serial-path'],
    'mqtt.url': values['mqtt-url'],
    dataDir: values['data-dir'],
    'health.port': values['health-port'],
  };
  const config = loadAgentConfig(values.config, process.env, overrides, (deprecation) => deprecations.push(deprecation));
  if (values['print-config']) {
    for (const { message } of deprecations) process.stderr.write(`furnace-agent: warning: ${message}\n`);
    process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
    return;
  }
  const log = pino({ base: { part: 'agent' }, level: config.logLevel });
  for (const { found, use, message } of deprecations) log.warn({ setting: found, use }, message);
  const agent = startAgent(config, { log });
  agent.ready.catch((error: unknown) => fail(log, agent, error));
  let stopping = false;
  const stop = (signal: string) => {
    // Once, whichever signal comes first and however often (contract/stop-signals.ts).
    if (stopping) return;
    stopping = true;
    log.info({ signal, ...agent.stats }, 'agent stopping');
    // Every wait in stop() is bounded; this is the belt to those braces: never hang a shutdown.
    setTimeout(() => {
      log.error('agent did not stop in time; exiting anyway (the outbox keeps what was not sent)');
      process.exit(1);
    }, config.shutdown.flushMs + STOP_MARGIN_MS).unref();
    agent.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'agent did not stop cleanly');
        process.exit(1);
      },
    );
  };
  onStopSignals(stop);
}

function fail(log: Logger, agent: RunningAgent, error: unknown): void {
  const code: AgentErrorCode = error instanceof AgentError ? error.code : 'AGENT_START_FAILED';
  log.fatal({ err: error, code }, 'agent cannot run');
  process.stderr.write(`furnace-agent: ${code}: ${(error as Error).message}\n`);
  void agent.stop().finally(() => process.exit(1));
}

try {
  main();
} catch (error) {
  if (error instanceof SettingsError) {
    process.stderr.write(`furnace-agent: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof AgentError) {
    process.stderr.write(`furnace-agent: ${error.code}: ${error.message}\n`);
    process.exit(error.code === 'AGENT_TLS_FILE_UNREADABLE' ? 2 : 1);
  }
  throw error;
}
