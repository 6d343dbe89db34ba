import { type Static, Type } from '@sinclair/typebox';
import { SEGMENT_PATTERN, SettingsError, loadSettings } from '../contract/index.js';
import { LogLevelSetting } from '../contract/settings.js';
import { parseRules } from './alerts/rules/rule-schema.js';
import { InfluxSettingsSchema, influxSettingsProblems } from './store/influx/influx-settings.js';

// One schema for every backend setting: defaults, descriptions (shown in errors and in
// backend.example.yaml), and the environment names (FURNACE_BACKEND_<PATH>) all come from it.
// Every section has `default: {}` so that its leaves' defaults apply when it is absent.

const Int = (minimum: number, maximum: number, defaultValue: number, description: string) =>
  Type.Integer({ minimum, maximum, default: defaultValue, description });

const DAY_MS = 24 * 3600 * 1000;

const Http = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'address the HTTP API binds' }),
    port: Int(0, 65_535, 8080, 'HTTP API port (0: any free port)'),
    handlerTimeoutMs: Int(100, 600_000, 15_000, 'last-resort budget of any request, queries included; past it: 503 API_TIMEOUT'),
  },
  { additionalProperties: false, default: {} },
);

const Mqtt = Type.Object(
  {
    url: Type.String({ pattern: '^(mqtts?|wss?|tcp|tls)://', default: 'mqtt://localhost:1883', description: 'broker URL' }),
    clientId: Type.String({
      pattern: '^[A-Za-z0-9_-]{1,128}$',
      default: 'furnace-backend',
      description: 'fixed client id: with it the broker keeps this backend session while it is away',
    }),
    username: Type.Optional(Type.String({ description: 'broker user name' })),
    password: Type.Optional(Type.String({ description: 'broker password' })),
    maxPayloadBytes: Int(1024, 16 * 1024 * 1024, 512 * 1024, 'larger payloads are refused unread'),
    keepaliveSeconds: Int(5, 3600, 30, 'MQTT keepalive: how soon a dead broker connection is noticed'),
  },
  { additionalProperties: false, default: {} },
);

const Ingest = Type.Object(
  {
    batchMaxReadings: Int(1, 100_000, 5000, 'a write transaction is committed once it holds this many readings (or after batchMaxDelayMs)'),
    batchMaxDelayMs: Int(
      0,
      10_000,
      10,
      'ms a received batch may wait for others to share its write transaction while the store is idle; during a commit, what arrives waits for it and goes in the next one',
    ),
    maxPendingReadings: Int(
      1000,
      1_000_000,
      20_000,
      'readings received but not committed; past it no more are taken from the broker until the store catches up',
    ),
    retryMaxDelayMs: Int(100, 60_000, 5000, 'longest pause between retries of a failed write'),
    confirmIntervalMs: Int(
      50,
      60_000,
      500,
      'at most this often per device, ms, the backend tells the agent what it has stored (telemetry/v1/{device}/stored); the agent forgets a reading only then',
    ),
  },
  { additionalProperties: false, default: {} },
);

const Store = Type.Object(
  {
    kind: Type.Union([Type.Literal('sqlite'), Type.Literal('influxdb')], {
      default: 'sqlite',
      description:
        'where readings go: sqlite (embedded, in dataDir) or influxdb (store.influx); alerts, registry and seq ranges stay in SQLite either way',
    }),
    rawRetentionDays: Int(1, 36_500, 30, 'raw readings older than this (by source time) are deleted'),
    minuteRollupRetentionDays: Int(1, 36_500, 400, 'per-minute rollups older than this are deleted'),
    hourRollupRetentionDays: Int(0, 36_500, 0, 'per-hour rollups older than this are deleted (0: kept for ever)'),
    retentionIntervalMs: Int(60_000, 7 * DAY_MS, 3600 * 1000, 'how often retention runs (also at start-up)'),
    influx: InfluxSettingsSchema,
  },
  { additionalProperties: false, default: {} },
);

const Query = Type.Object(
  {
    timeoutMs: Int(50, 300_000, 5000, 'budget of one range query; past it: 503 API_QUERY_TIMEOUT'),
    workers: Int(1, 16, 2, 'worker threads that run range queries, each with its own read-only connection'),
    maxQueued: Int(0, 10_000, 64, 'range queries waiting for a worker; past it: 503 API_QUERY_BUSY'),
    defaultLimit: Int(1, 100_000, 1000, 'points per page when the request gives no limit'),
    maxLimit: Int(1, 100_000, 10_000, 'largest limit a request may ask for'),
    maxRangeDays: Int(1, 36_500, 400, 'widest from..to a request may ask for'),
    staleAfterMs: Int(1000, DAY_MS, 60_000, 'a sensor whose last reading is older than this is reported stale'),
  },
  { additionalProperties: false, default: {} },
);

const Commands = Type.Object(
  {
    defaultTimeoutMs: Int(
      100,
      600_000,
      5000,
      'how long a command waits for the agent reply when the request gives no timeoutMs; past it: 504 API_DEVICE_TIMEOUT',
    ),
    maxTimeoutMs: Int(100, 600_000, 30_000, 'the longest timeoutMs a command request may ask for'),
    maxInFlightPerDevice: Int(
      1,
      1000,
      4,
      'commands waiting for one device reply; past it: 429 API_DEVICE_BUSY at once (refused, not queued)',
    ),
    maxInFlight: Int(1, 100_000, 256, 'commands waiting for a reply, all devices together; past it: 429 API_DEVICE_BUSY at once'),
    fillGapsAfterMs: Int(
      0,
      DAY_MS,
      30_000,
      'a seq gap open this long on an online device is asked for again from its agent outbox (the resend command); 0: never',
    ),
    fillGapsRepeatMs: Int(10_000, DAY_MS, 300_000, 'the same gap is asked for at most this often (and 3 times in all)'),
  },
  { additionalProperties: false, default: {} },
);

export const ApiTokenSchema = Type.Object(
  {
    name: Type.String({ pattern: SEGMENT_PATTERN, description: 'who holds the token (logs and rate limits use it)' }),
    sha256: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: 'SHA-256 of the token, lower-case hex (furnace-backend --new-token NAME)',
    }),
    scopes: Type.Array(Type.Union([Type.Literal('read'), Type.Literal('admin')]), {
      minItems: 1,
      uniqueItems: true,
      description:
        'read: every GET under /api/v1 and the commands that only ask (read-now, outbox, ping); admin: also /api/v1/admin and every command',
    }),
    rateLimitPerMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'overrides rateLimit.perMinute' })),
  },
  { additionalProperties: false },
);
export type ApiTokenConfig = Static<typeof ApiTokenSchema>;

const Auth = Type.Object(
  {
    openAccess: Type.Boolean({ default: false, description: 'development only: no token needed, every caller is admin' }),
    tokens: Type.Array(ApiTokenSchema, { default: [], maxItems: 1000, description: 'API tokens, hashed (config file only)' }),
    protectMetrics: Type.Boolean({ default: false, description: 'true: /metrics needs a read token too' }),
  },
  { additionalProperties: false, default: {} },
);

const RateLimit = Type.Object(
  {
    perMinute: Int(1, 1_000_000, 600, 'requests per minute per token (per address with open access)'),
  },
  { additionalProperties: false, default: {} },
);

const Webhook = Type.Object(
  {
    name: Type.String({ pattern: SEGMENT_PATTERN, description: 'names the webhook in logs, metrics and its outbox' }),
    url: Type.String({ pattern: '^https?://', description: 'where alert events are POSTed as JSON' }),
    secret: Type.Optional(Type.String({ minLength: 16, description: 'HMAC-SHA256 key: the body is signed in X-Furnace-Signature' })),
    transitions: Type.Array(
      Type.Union([Type.Literal('pending'), Type.Literal('firing'), Type.Literal('resolved'), Type.Literal('inactive')]),
      {
        default: ['firing', 'resolved'],
        uniqueItems: true,
        description: 'which transitions (by the state entered) are sent; reminders are firing',
      },
    ),
    timeoutMs: Int(100, 120_000, 10_000, 'one POST waits this long for an answer'),
    retryForMs: Int(1000, 30 * DAY_MS, 24 * 3600 * 1000, 'an event is retried with backoff this long, then recorded as failed'),
  },
  { additionalProperties: false },
);

const Alerts = Type.Object(
  {
    rules: Type.Array(Type.Unknown(), {
      default: [],
      description: 'alert rules (backend/alerts/README.md); ignored when rulesFile is set',
    }),
    rulesFile: Type.Optional(
      Type.String({ minLength: 1, description: 'YAML file with the rules (a list); SIGHUP re-reads it, PUT /api/v1/rules rewrites it' }),
    ),
    checkIntervalMs: Int(100, 60_000, 1000, 'how often time-based conditions (stale, for, reminders) are checked'),
    mqtt: Type.Boolean({ default: true, description: 'publish alert states and events on the broker (alerts/v1/...)' }),
    webhooks: Type.Array(Webhook, { default: [], maxItems: 100, description: 'HTTP endpoints that receive alert events' }),
    retryMinMs: Int(10, 600_000, 1000, 'first pause before a failed delivery is retried; it doubles up to retryMaxMs'),
    retryMaxMs: Int(100, 3_600_000, 60_000, 'longest pause between two delivery attempts'),
  },
  { additionalProperties: false, default: {} },
);

export const BackendConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data/backend', description: 'folder of the SQLite files' }),
    logLevel: LogLevelSetting,
    http: Http,
    mqtt: Mqtt,
    ingest: Ingest,
    store: Store,
    query: Query,
    auth: Auth,
    rateLimit: RateLimit,
    alerts: Alerts,
    commands: Commands,
  },
  { additionalProperties: false },
);
export type BackendConfig = Static<typeof BackendConfigSchema>;

export const BACKEND_ENV_PREFIX = 'FURNACE_BACKEND';

export function loadBackendConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined> = {},
): BackendConfig {
  const config = loadSettings(BackendConfigSchema, { file, env, envPrefix: BACKEND_ENV_PREFIX, overrides });
  const problems = crossChecks(config);
  if (problems.length > 0) throw new SettingsError(problems);
  return config;
}

/** What one key's schema cannot say: rules between keys. */
function crossChecks(config: BackendConfig): string[] {
  const problems: string[] = [];
  if (config.query.defaultLimit > config.query.maxLimit) {
    problems.push(`query.defaultLimit = ${config.query.defaultLimit}: must not exceed query.maxLimit (${config.query.maxLimit})`);
  }
  const names = new Set<string>();
  const hashes = new Set<string>();
  config.auth.tokens.forEach((token, i) => {
    if (names.has(token.name)) problems.push(`auth.tokens.${i}.name = ${JSON.stringify(token.name)}: used by another token`);
    if (hashes.has(token.sha256)) problems.push(`auth.tokens.${i}.sha256: the same token as another entry`);
    names.add(token.name);
    hashes.add(token.sha256);
  });
  const webhooks = new Set<string>();
  config.alerts.webhooks.forEach((hook, i) => {
    if (webhooks.has(hook.name)) problems.push(`alerts.webhooks.${i}.name = ${JSON.stringify(hook.name)}: used by another webhook`);
    webhooks.add(hook.name);
  });
  if (config.store.kind === 'influxdb') problems.push(...influxSettingsProblems(config.store.influx));
  if (config.alerts.retryMinMs > config.alerts.retryMaxMs) {
    problems.push(`alerts.retryMinMs = ${config.alerts.retryMinMs}: must not exceed alerts.retryMaxMs (${config.alerts.retryMaxMs})`);
  }
  const { commands } = config;
  if (commands.defaultTimeoutMs > commands.maxTimeoutMs) {
    problems.push(
      `commands.defaultTimeoutMs = ${commands.defaultTimeoutMs}: must not exceed commands.maxTimeoutMs (${commands.maxTimeoutMs})`,
    );
  }
  if (commands.maxInFlightPerDevice > commands.maxInFlight) {
    problems.push(
      `commands.maxInFlightPerDevice = ${commands.maxInFlightPerDevice}: must not exceed commands.maxInFlight (${commands.maxInFlight})`,
    );
  }
  if (config.alerts.rulesFile === undefined) {
    const parsed = parseRules(config.alerts.rules);
    if (!parsed.ok) problems.push(...parsed.problems.map((problem) => `alerts.${problem}`));
  }
  return problems;
}
