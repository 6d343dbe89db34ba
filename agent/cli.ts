#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { SettingsError } from '../contract/index.js';
import { startAgent } from './agent.js';
import { loadAgentConfig } from './config.js';

const HELP = `furnace-agent: reads a furnace's serial sensor and publishes its readings over MQTT

  --config FILE        YAML settings (see agent/agent.example.yaml)
  --device ID          device id                       (env FURNACE_AGENT_DEVICE)
  --serial-path PATH   serial device of the sensor     (env FURNACE_AGENT_SERIAL_PATH)
  --mqtt-url URL       broker, e.g. mqtt://pi:1883     (env FURNACE_AGENT_MQTT_URL)
  --data-dir DIR       folder of the durable outbox    (env FURNACE_AGENT_DATA_DIR)
  --print-config       print the settings in force and exit
  --help               this text

Every setting can also come from FURNACE_AGENT_<KEY_PATH>, e.g. FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS.
`;

function main(): void {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      device: { type: 'string' },
      'serial-path': { type: 'string' },
      'mqtt-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'print-config': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const config = loadAgentConfig(values.config, process.env, {
    device: values.device,
    'serial.path': values['serial-path'],
    'mqtt.url': values['mqtt-url'],
    dataDir: values['data-dir'],
  });
  if (values['print-config']) {
    const masked = { ...config, mqtt: { ...config.mqtt, password: config.mqtt.password ? '********' : undefined } };
    process.stdout.write(`${JSON.stringify(masked, null, 2)}\n`);
    return;
  }
  const log = pino({ base: { part: 'agent' } });
  const agent = startAgent(config, { log });
  let stopping = false;
  const stop = (signal: string) => {
    // Ctrl-C under npm start reaches us twice (the terminal's SIGINT, then the launcher's SIGTERM).
    if (stopping) return;
    stopping = true;
    log.info({ signal, ...agent.stats }, 'agent stopping');
    agent.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'agent did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

try {
  main();
} catch (error) {
  if (error instanceof SettingsError) {
    process.stderr.write(`furnace-agent: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
