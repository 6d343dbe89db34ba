#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { SettingsError } from '../contract/index.js';
import { startBroker } from './broker.js';
import { loadBrokerConfig } from './config.js';
import { BrokerError } from './errors.js';

const HELP = `furnace-broker: the MQTT broker of furnace telemetry (aedes)

  --config FILE   YAML settings
  --port N        MQTT TCP port, default 1883   (env FURNACE_BROKER_TCP_PORT)
  --host ADDR     address to bind, default all  (env FURNACE_BROKER_TCP_HOST)
  --help          this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const config = loadBrokerConfig(values.config, process.env, { 'tcp.port': values.port, 'tcp.host': values.host });
  const log = pino({ base: { part: 'broker' } });
  const broker = await startBroker(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    // Ctrl-C under npm start reaches us twice (the terminal's SIGINT, then the launcher's SIGTERM).
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'broker stopping');
    broker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof SettingsError || error instanceof BrokerError) {
    process.stderr.write(`furnace-broker: ${error.code}: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
});
