#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { type Logger, pino } from 'pino';
import { SettingsError } from '../contract/index.js';
import { maskSecrets } from '../contract/settings.js';
import { type RunningBackend, startBackend } from './backend.js';
import { loadBackendConfig } from './config.js';
import { BackendError } from './errors.js';
import { hashToken, newToken } from './http/auth.js';
import { onStopSignals } from '../contract/stop-signals.js';

const HELP = `furnace-backend: stores furnace readings from MQTT and answers the HTTP query API

  --config FILE       YAML settings (every key: backend/backend.example.yaml)
  --port N            HTTP port, default 8080                (env FURNACE_BACKEND_HTTP_PORT)
  --host ADDR         HTTP address, default 0.0.0.0          (env FURNACE_BACKEND_HTTP_HOST)
  --mqtt-url URL      broker, default mqtt://localhost:1883  (env FURNACE_BACKEND_MQTT_URL)
  --data-dir DIR      SQLite folder, default ./data/backend  (env FURNACE_BACKEND_DATA_DIR)
  --open-access       no API token needed: development only  (env FURNACE_BACKEND_AUTH_OPEN_ACCESS=true)
  --store KIND        sqlite (default) or influxdb           (env FURNACE_BACKEND_STORE_KIND)
  --influx-url URL    InfluxDB, default http://localhost:8086 (env FURNACE_BACKEND_STORE_INFLUX_URL)
  --influx-write-mode MODE  auto (default), v1 (/write, InfluxDB < 1.8) or v2 (/api/v2/write)
                                                             (env FURNACE_BACKEND_STORE_INFLUX_WRITE_MODE)
  --influx-database DB  database of v1 writes and of queries, default the bucket
                                                             (env FURNACE_BACKEND_STORE_INFLUX_DATABASE)
  --influx-bucket B   v2 bucket, default furnace             (env FURNACE_BACKEND_STORE_INFLUX_BUCKET)
  --influx-org ORG    v2 organization                        (env FURNACE_BACKEND_STORE_INFLUX_ORG)
  --influx-username U InfluxDB 1.x user; the password and the token only from the environment or the
                      config file: FURNACE_BACKEND_STORE_INFLUX_PASSWORD, FURNACE_BACKEND_STORE_INFLUX_TOKEN
  --new-token NAME    print a new API token and the config entry that accepts it, then exit
  --scope SCOPE       with --new-token: read (default) or admin
  --print-config      print the settings in force (token hashes shown; passwords, tokens, webhook secrets
                      and credentials inside URLs masked) and exit
  --help              this text

Every setting can also come from FURNACE_BACKEND_<KEY_PATH>, e.g. FURNACE_BACKEND_LOG_LEVEL=debug.
Signals: SIGTERM/SIGINT stop after committing what is pending; SIGHUP reloads the alert rules
(alerts.rules in --config, or alerts.rulesFile), keeping the old ones if the new set has an error.
`;

function printNewToken(name: string, scope: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new SettingsError([`--new-token ${JSON.stringify(name)}: use 1 to 64 of A-Z a-z 0-9 _ -`]);
  if (scope !== 'read' && scope !== 'admin') throw new SettingsError([`--scope ${JSON.stringify(scope)}: expected read or admin`]);
  const token = newToken();
  process.stdout.write(
    `token (give it to the client; it is not stored anywhere):\n  ${token}\n\n` +
      `config entry (add it under auth.tokens):\n  - name: ${name}\n    sha256: ${hashToken(token)}\n    scopes: [${scope === 'admin' ? 'read, admin' : 'read'}]\n`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'mqtt-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'open-access': { type: 'boolean' },
      store: { type: 'string' },
      'influx-url': { type: 'string' },
      'influx-write-mode': { type: 'string' },
      'influx-database': { type: 'string' },
      'influx-bucket': { type: 'string' },
      'influx-org': { type: 'string' },
      'influx-username': { type: 'string' },
      'new-token': { type: 'string' },
      scope: { type: 'string', default: 'read' },
      'print-config': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values['new-token'] !== undefined) return printNewToken(values['new-token'], values.scope);
  const overrides = {
    'http.port': values.port,
    'http.host': values.host,
    'mqtt.url': values['mqtt-url'],
    dataDir: values['data-dir'],
    'auth.openAccess': values['open-access'] ? 'true' : undefined,
    'store.kind': values.store,
    'store.influx.url': values['influx-url'],
    'store.influx.writeMode': values['influx-write-mode'],
    'store.influx.database': values['influx-database'],
    'store.influx.bucket': values['influx-bucket'],
    'store.influx.org': values['influx-org'],
    'store.influx.username': values['influx-username'],
  };
  const configFile = values.config;
  const config = loadBackendConfig(configFile, process.env, overrides);
  if (values['print-config']) return void process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
  const log = pino({ base: { part: 'backend' }, level: config.logLevel });
  // SIGHUP re-reads the settings for the alert rules (the rest needs a restart).
  const backend = await startBackend(config, log, {
    configFile,
    reloadConfig: () => loadBackendConfig(configFile, process.env, overrides),
  });
  process.on('SIGHUP', () => void backend.alerting.reload('SIGHUP'));
  stopOnSignals(backend, log);
}

/** SIGINT and SIGTERM stop the backend once; the exit code says whether it stopped cleanly. */
function stopOnSignals(backend: RunningBackend, log: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    // Once, whichever signal comes first and however often (contract/stop-signals.ts).
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
  onStopSignals(stop);
}

main().catch((error: unknown) => {
  if (error instanceof SettingsError || error instanceof BackendError) {
    process.stderr.write(`furnace-backend: ${error.code}: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
});
