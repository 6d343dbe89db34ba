// Where sessions, subscriptions, retained messages and wills live, and how messages travel:
// in memory (aedes' defaults, one process), or in Redis (aedes-persistence-redis for the state,
// mqemitter-redis for the messages), so that several broker processes act as one.
import aedesPersistenceRedis, { type RedisPersistence } from 'aedes-persistence-redis';
import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.js';
import { BrokerError } from './errors.js';

export interface PersistenceChoice {
  /** For aedes' `persistence` option; undefined: aedes' in-memory default. */
  readonly persistence: RedisPersistence | undefined;
  /** For aedes' `mq` option; undefined: aedes' in-memory default. */
  readonly mq: MQEmitterRedis.MQEmitterRedis | undefined;
  /** Ends every connection: run after aedes.close(), which quits only the emitter's (and may wait forever on a dead Redis). */
  close(): void;
}

const MEMORY: PersistenceChoice = { persistence: undefined, mq: undefined, close: () => undefined };

/** The password part of a Redis URL never reaches the log. */
function redactedUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

export async function createPersistence(config: BrokerConfig['persistence'], concurrency: number, log: Logger): Promise<PersistenceChoice> {
  switch (config.backend) {
    case 'memory':
      return MEMORY;
    case 'redis':
      return connectRedis(config, concurrency, log);
  }
}

async function connectRedis(config: BrokerConfig['persistence'], concurrency: number, log: Logger): Promise<PersistenceChoice> {
  const url = redactedUrl(config.redisUrl);
  // Three connections: state, publishing, and subscribing (a subscribed Redis connection can do nothing else).
  const connections = ['state', 'publish', 'subscribe'].map((role) => {
    const connection = new Redis(config.redisUrl, { lazyConnect: true, connectTimeout: config.connectTimeoutMs });
    // ioredis reconnects by itself; without a listener it would print errors to the console.
    connection.on('error', (error: Error) => log.warn({ err: error, redis: url, connection: role }, 'Redis connection error'));
    return connection;
  });
  const [db, pub, sub] = connections as [Redis, Redis, Redis];
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(connections.map((connection) => connection.connect())),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${config.connectTimeoutMs} ms`)), config.connectTimeoutMs);
      }),
    ]);
  } catch (error) {
    connections.forEach((connection) => connection.disconnect());
    throw new BrokerError(
      'BROKER_PERSISTENCE_UNAVAILABLE',
      `cannot connect to Redis at ${url} (persistence.redisUrl): ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    clearTimeout(timer);
  }
  log.info({ redis: url }, 'persistence: Redis (sessions, subscriptions, retained messages and messages shared with other broker nodes)');
  return {
    persistence: aedesPersistenceRedis({ conn: db }),
    // matchEmptyLevels as aedes sets it for its own emitter [MQTT-4.7.1-3].
    mq: MQEmitterRedis({ subConn: sub, pubConn: pub, concurrency, matchEmptyLevels: true }),
    close: () => connections.forEach((connection) => connection.disconnect()),
  };
}
