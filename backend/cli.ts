#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { SettingsError } from '../contract/index.js';
import { startBackend } from './backend.js';
import { loadBackendConfig } from './config.js';
import { BackendError } from './errors.js';

const HELP = `furnace-backend: stores furnace readings from MQTT and answers the HTTP query API

  --config FILE     YAML settings
  --port N          HTTP port, default 8080                (env FURNACE_BACKEND_HTTP_PORT)
  --mqtt-url URL    broker, default mqtt://localhost:1883  (env FURNACE_BACKEND_MQTT_URL)
  --data-dir DIR    SQLite folder, default ./data/backend  (env FURNACE_BACKEND_DATA_DIR)
  --help            this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      'mqtt-url': { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const config = loadBackendConfig(values.config, process.env, {
    'http.port': values.port,
    'mqtt.url': values['mqtt-url'],
    dataDir: values['data-dir'],
  });
  const log = pino({ base: { part: 'backend' } });
  const backend = await startBackend(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    // Ctrl-C under npm start reaches us twice (the terminal's SIGINT, then the launcher's SIGTERM).
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'backend stopping');
    backend.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'backend did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof SettingsError || error instanceof BackendError) {
    process.stderr.write(`furnace-backend: ${error.code}: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
});
