import { type Static, Type } from '@sinclair/typebox';

// The `store.influx` section of the backend settings (used when `store.kind` is `influxdb`).
// Every key has an environment variable like the others: store.influx.url is
// FURNACE_BACKEND_STORE_INFLUX_URL, store.influx.token FURNACE_BACKEND_STORE_INFLUX_TOKEN.

const Int = (minimum: number, maximum: number, defaultValue: number, description: string) =>
  Type.Integer({ minimum, maximum, default: defaultValue, description });

export const INFLUX_WRITE_MODES = ['auto', 'v1', 'v2'] as const;
export type InfluxWriteMode = (typeof INFLUX_WRITE_MODES)[number];

export const InfluxSettingsSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', default: 'http://localhost:8086', description: 'InfluxDB base URL (http:// or https://)' }),
    writeMode: Type.Union(
      INFLUX_WRITE_MODES.map((mode) => Type.Literal(mode)),
      {
        default: 'auto',
        description:
          'v2: /api/v2/write through @influxdata/influxdb-client (InfluxDB 2.x, 3.x, Cloud, 1.8+); v1: /write (InfluxDB before 1.8, e.g. Debian 1.6); auto: v1 when /ping says a version before 1.8, else v2',
      },
    ),
    token: Type.Optional(
      Type.String({ minLength: 1, description: 'API token (2.x, 3.x, Cloud; 1.8+ takes user:password); wins over username/password' }),
    ),
    username: Type.Optional(Type.String({ minLength: 1, description: 'InfluxDB 1.x user, when its auth is on' })),
    password: Type.Optional(Type.String({ description: 'InfluxDB 1.x password' })),
    org: Type.String({ default: '', description: 'organization (v2 writes; ignored by 1.x)' }),
    bucket: Type.String({
      minLength: 1,
      default: 'furnace',
      description: 'bucket the v2 write goes to (1.8+: "database/retention-policy")',
    }),
    database: Type.String({
      default: '',
      description: 'database of v1 writes and of every InfluxQL query (2.x/3.x: the database mapped to the bucket); empty: the bucket name',
    }),
    retentionPolicy: Type.String({ default: '', description: 'retention policy of v1 writes and queries; empty: the database default' }),
    createDatabase: Type.Boolean({
      default: true,
      description: 'v1: CREATE DATABASE at start-up when it is missing (needs admin rights when auth is on)',
    }),
    batchSize: Int(1, 100_000, 5000, 'points per write request; a larger store write is sent as several requests'),
    maxBatchBytes: Int(
      1024,
      100 * 1024 * 1024,
      8 * 1024 * 1024,
      'bytes per write request at most (InfluxDB refuses bodies past its max-body-size with 413)',
    ),
    timeoutMs: Int(100, 600_000, 10_000, 'one HTTP request to InfluxDB (write, query, ping) waits this long'),
    retryForMs: Int(
      0,
      3_600_000,
      10_000,
      'a failed write is retried (backoff with jitter, Retry-After obeyed) this long before ingest is told; ingest then tries again',
    ),
    retryMinDelayMs: Int(10, 60_000, 200, 'first pause before a write is retried; it doubles up to retryMaxDelayMs'),
    retryMaxDelayMs: Int(100, 600_000, 5000, 'longest pause between two write attempts (a longer Retry-After is obeyed)'),
  },
  { additionalProperties: false, default: {} },
);
export type InfluxSettings = Static<typeof InfluxSettingsSchema>;

/** What the schema cannot say about one section: rules between its keys. */
export function influxSettingsProblems(settings: InfluxSettings): string[] {
  const problems: string[] = [];
  if (settings.password !== undefined && settings.username === undefined) {
    problems.push('store.influx.password is set but store.influx.username is not: set both, or use store.influx.token');
  }
  if (settings.retryMinDelayMs > settings.retryMaxDelayMs) {
    problems.push(
      `store.influx.retryMinDelayMs = ${settings.retryMinDelayMs}: must not exceed store.influx.retryMaxDelayMs (${settings.retryMaxDelayMs})`,
    );
  }
  return problems;
}

/** The database InfluxQL queries (and v1 writes) use. */
export function influxDatabase(settings: Pick<InfluxSettings, 'database' | 'bucket'>): string {
  return settings.database || settings.bucket;
}
