#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { type Logger, pino } from 'pino';
import { SettingsError } from '../contract/index.js';
import { maskSecrets } from '../contract/settings.js';
import { type RunningBroker, startBroker } from './broker.js';
import { loadBrokerConfig } from './config.js';
import { BrokerError } from './errors.js';
import { runPasswd } from './access/passwd-cli.js';
import { onStopSignals } from '../contract/stop-signals.js';

const HELP = `furnace-broker: the MQTT broker of furnace telemetry (aedes)

  furnace-broker [options]          run the broker
  furnace-broker passwd --help      manage its users (credentials file)

  --config FILE          YAML settings (see broker/broker.example.yaml)
  --port N               MQTT TCP port, default 1883           (env FURNACE_BROKER_TCP_PORT)
  --host ADDR            address to bind, default all          (env FURNACE_BROKER_TCP_HOST)
  --password-file FILE   credentials file                      (env FURNACE_BROKER_AUTH_PASSWORD_FILE)
  --allow-anonymous      DEVELOPMENT ONLY: clients without credentials connect (as admin)
                                                               (env FURNACE_BROKER_AUTH_ALLOW_ANONYMOUS=true)
  --tls-port N           also serve MQTT over TLS on N (needs --tls-cert and --tls-key)
  --tls-cert FILE        PEM certificate                       (env FURNACE_BROKER_TLS_CERT_FILE)
  --tls-key FILE         PEM private key                       (env FURNACE_BROKER_TLS_KEY_FILE)
  --ws-port N            also serve MQTT over WebSocket on N
  --metrics-port N       serve Prometheus /metrics on N (127.0.0.1 unless metrics.host says otherwise)
  --persistence KIND     memory (default) or redis             (env FURNACE_BROKER_PERSISTENCE_BACKEND)
  --redis-url URL        e.g. redis://127.0.0.1:6379           (env FURNACE_BROKER_PERSISTENCE_REDIS_URL)
  --print-config         print the settings in force (credentials inside URLs masked) and exit
  --help                 this text

Every setting can also come from FURNACE_BROKER_<KEY_PATH>, e.g. FURNACE_BROKER_LIMITS_MAX_CONNECTIONS.
Signals: SIGHUP reloads the credentials file; SIGINT and SIGTERM stop gracefully.
`;

/** Flags that name a port also switch their listener on. */
function enabledBy(port: string | undefined): string | undefined {
  return port === undefined ? undefined : 'true';
}

async function runBroker(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'password-file': { type: 'string' },
      'allow-anonymous': { type: 'boolean' },
      'tls-port': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'ws-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      persistence: { type: 'string' },
      'redis-url': { type: 'string' },
      'print-config': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const config = loadBrokerConfig(values.config, process.env, {
    'tcp.port': values.port,
    'tcp.host': values.host,
    'auth.passwordFile': values['password-file'],
    'auth.allowAnonymous': values['allow-anonymous'] ? 'true' : undefined,
    'tls.enabled': enabledBy(values['tls-port']),
    'tls.port': values['tls-port'],
    'tls.certFile': values['tls-cert'],
    'tls.keyFile': values['tls-key'],
    'ws.enabled': enabledBy(values['ws-port']),
    'ws.port': values['ws-port'],
    'metrics.enabled': enabledBy(values['metrics-port']),
    'metrics.port': values['metrics-port'],
    'persistence.backend': values.persistence,
    'persistence.redisUrl': values['redis-url'],
  });
  if (values['print-config']) {
    process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
    return;
  }
  const log = pino({ base: { part: 'broker' }, level: config.logLevel });
  handleSignals(await startBroker(config, log), log);
}

/** SIGINT and SIGTERM stop gracefully, SIGHUP reloads the credentials file. */
function handleSignals(broker: RunningBroker, log: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    // Once, whichever signal comes first and however often (contract/stop-signals.ts).
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'broker stopping');
    broker.close().then(
      () => {
        log.info('broker stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'broker did not stop cleanly');
        process.exit(1);
      },
    );
  };
  onStopSignals(stop);
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading the credentials file');
    void broker.reloadCredentials();
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'passwd') {
    process.stdout.write(await runPasswd(args.slice(1)));
    return;
  }
  await runBroker(args);
}

main().catch((error: unknown) => {
  if (error instanceof SettingsError || error instanceof BrokerError) {
    process.stderr.write(`furnace-broker: ${error.code}: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`furnace-broker: ${error.message} (see --help)\n`);
    process.exit(2);
  }
  throw error;
});
