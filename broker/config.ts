import { type Static, type TProperties, Type } from '@sinclair/typebox';
import { SettingsError, loadSettings } from '../contract/index.js';
import { LogLevelSetting } from '../contract/settings.js';
import { DEFAULT_ACL } from './access/acl-defaults.js';
import { configProblems } from './config-checks.js';

// One schema for every broker setting: defaults, descriptions (shown in start-up errors) and the
// environment variable names (FURNACE_BROKER_ + key path) all come from here. Every key is
// documented with an example in broker.example.yaml; broker/config.test.ts keeps the two in step.

const section = <P extends TProperties>(properties: P) => Type.Object(properties, { additionalProperties: false, default: {} });

const host = (what: string, fallback = '0.0.0.0') =>
  Type.String({ minLength: 1, default: fallback, description: `address the ${what} binds` });
const port = (what: string, fallback: number) =>
  Type.Integer({ minimum: 0, maximum: 65_535, default: fallback, description: `${what} port (0: any free port)` });
const file = (what: string) => Type.Optional(Type.String({ minLength: 1, description: what }));

export const ROLES = ['device', 'backend', 'viewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const patterns = (role: Role, verb: 'publish' | 'subscribe') =>
  Type.Array(Type.String({ minLength: 1 }), {
    default: [...DEFAULT_ACL[role][verb]],
    description: `topic filters a ${role} may ${verb === 'publish' ? 'publish to' : 'subscribe to (and receive)'}; {username} is the client's user name`,
  });
const rolePatterns = (role: Role) => section({ publish: patterns(role, 'publish'), subscribe: patterns(role, 'subscribe') });
const denied = (verb: 'publish' | 'subscribe') =>
  Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description:
      verb === 'publish'
        ? 'topic filters no client but admin may publish to, whatever its role allows'
        : 'topic filters no client but admin may subscribe to or receive, whatever its role allows',
  });

export const BrokerConfigSchema = Type.Object(
  {
    brokerId: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,64}$',
        description: 'id in $SYS topics and between cluster nodes (default: random at each start)',
      }),
    ),
    logLevel: LogLevelSetting,
    tcp: section({
      enabled: Type.Boolean({ default: true, description: 'serve plain MQTT over TCP' }),
      host: host('MQTT listener'),
      port: port('MQTT TCP', 1883),
    }),
    tls: section({
      enabled: Type.Boolean({ default: false, description: 'serve MQTT over TLS (needs certFile and keyFile)' }),
      host: host('MQTT TLS listener'),
      port: port('MQTT TLS', 8883),
      certFile: file('PEM server certificate (with its chain)'),
      keyFile: file('PEM private key of certFile'),
      caFile: file('PEM CA that signs client certificates; set it to accept certificate logins'),
      requireClientCertificate: Type.Boolean({
        default: false,
        description: 'refuse TLS clients without a certificate signed by caFile',
      }),
    }),
    ws: section({
      enabled: Type.Boolean({ default: false, description: 'serve MQTT over WebSocket, for browsers' }),
      host: host('WebSocket listener'),
      port: port('WebSocket', 8083),
      path: Type.String({ pattern: '^/', default: '/mqtt', description: 'URL path of the WebSocket endpoint' }),
    }),
    auth: section({
      passwordFile: file('credentials file (user:role:scrypt hash per line), managed with `furnace-broker passwd`'),
      allowAnonymous: Type.Boolean({
        default: false,
        description: 'DEVELOPMENT ONLY: let clients without a user name connect, with anonymousRole',
      }),
      anonymousRole: Type.Union([Type.Literal('backend'), Type.Literal('viewer'), Type.Literal('admin')], {
        default: 'admin',
        description: 'role of anonymous clients when allowAnonymous is on: backend, viewer or admin',
      }),
      deviceClientId: Type.String({
        pattern: '\\{username\\}',
        default: '{username}',
        description: 'the client id a device must use; {username} is its user name',
      }),
    }),
    acl: section({
      device: rolePatterns('device'),
      backend: rolePatterns('backend'),
      viewer: rolePatterns('viewer'),
      admin: rolePatterns('admin'),
      // Fences that win over every role's own patterns; admin alone is exempt (broker/access/acl.ts).
      deny: section({ publish: denied('publish'), subscribe: denied('subscribe') }),
    }),
    limits: section({
      maxConnections: Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        default: 10_000,
        description: 'open network connections over all listeners; more are closed at once',
      }),
      maxPacketBytes: Type.Integer({
        minimum: 1024,
        maximum: 268_435_455,
        default: 1024 * 1024,
        description: 'largest MQTT packet accepted, in bytes; a client sending a larger one is disconnected',
      }),
      maxClientIdLength: Type.Integer({ minimum: 23, maximum: 65_535, default: 128, description: 'longest client id accepted' }),
      connectTimeoutMs: Type.Integer({
        minimum: 100,
        maximum: 600_000,
        default: 10_000,
        description: 'time a new connection has to send CONNECT (and finish the TLS handshake), in ms',
      }),
      keepaliveMinSeconds: Type.Integer({
        minimum: 1,
        maximum: 65_535,
        default: 5,
        description: 'a smaller keepalive asked by a client is raised to this, in s',
      }),
      keepaliveMaxSeconds: Type.Integer({
        minimum: 1,
        maximum: 65_535,
        default: 600,
        description: 'a larger (or zero: none) keepalive asked by a client is lowered to this, in s',
      }),
      publishRatePerSecond: Type.Integer({
        minimum: 0,
        maximum: 10_000_000,
        default: 200,
        description: 'PUBLISH packets per second one client may send before it is slowed down (0: no limit)',
      }),
      publishBurst: Type.Integer({
        minimum: 1,
        maximum: 10_000_000,
        default: 500,
        description: 'PUBLISH packets one client may send at once above the rate',
      }),
      drainTimeoutMs: Type.Integer({
        minimum: 100,
        maximum: 600_000,
        default: 10_000,
        description: 'a subscriber whose socket stays full this long is disconnected, in ms',
      }),
      subscriberStallMs: Type.Integer({
        minimum: 10,
        maximum: 600_000,
        default: 250,
        description: 'after this long blocked on one subscriber, delivery to the others goes on and its messages queue for it, in ms',
      }),
      pacedRoles: Type.Array(Type.Union(ROLES.map((role) => Type.Literal(role))), {
        default: ['backend'],
        uniqueItems: true,
        description:
          'roles whose slow subscribers are never queued for nor cut off by the limits above: publishers are slowed to their pace instead (TCP back-pressure); one that stops reading for drainTimeoutMs is still disconnected',
      }),
      maxQueuedMessages: Type.Integer({
        minimum: 1,
        maximum: 10_000_000,
        default: 1000,
        description: 'messages queued for one blocked subscriber before it is disconnected',
      }),
      maxQueuedBytes: Type.Integer({
        minimum: 1024,
        maximum: 4 * 1024 * 1024 * 1024,
        default: 16 * 1024 * 1024,
        description: 'payload bytes queued for one blocked subscriber before it is disconnected',
      }),
    }),
    persistence: section({
      backend: Type.Union([Type.Literal('memory'), Type.Literal('redis')], {
        default: 'memory',
        description: 'memory (one process) or redis (several broker processes share sessions, subscriptions and retained messages)',
      }),
      redisUrl: Type.String({
        pattern: '^rediss?://',
        default: 'redis://127.0.0.1:6379',
        description: 'Redis URL for persistence redis (redis:// or rediss://, with /N for a database)',
      }),
      connectTimeoutMs: Type.Integer({
        minimum: 100,
        maximum: 600_000,
        default: 10_000,
        description: 'time Redis has to answer at start-up, in ms',
      }),
    }),
    metrics: section({
      enabled: Type.Boolean({ default: false, description: 'serve Prometheus metrics at /metrics over HTTP' }),
      host: host('metrics HTTP server', '127.0.0.1'),
      port: port('metrics HTTP', 9101),
    }),
    sys: section({
      heartbeatIntervalMs: Type.Integer({
        minimum: 1000,
        maximum: 3_600_000,
        default: 60_000,
        description: 'period of the $SYS/{brokerId}/heartbeat message, in ms',
      }),
    }),
    shutdown: section({
      graceMs: Type.Integer({
        minimum: 0,
        maximum: 600_000,
        default: 5000,
        description: 'time clients get to be closed cleanly on stop before their sockets are destroyed, in ms',
      }),
    }),
  },
  { additionalProperties: false },
);
export type BrokerConfig = Static<typeof BrokerConfigSchema>;

export const BROKER_ENV_PREFIX = 'FURNACE_BROKER';

/**
 * File < environment (FURNACE_BROKER_*) < `overrides` (flags, by dotted key path), checked
 * against the schema and the cross-key rules; throws one SettingsError listing every problem.
 */
export function loadBrokerConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined> = {},
): BrokerConfig {
  const config = loadSettings(BrokerConfigSchema, { file, env, envPrefix: BROKER_ENV_PREFIX, overrides });
  const problems = configProblems(config);
  if (problems.length > 0) throw new SettingsError(problems);
  return config;
}
