// Types for aedes-persistence-redis 11, which ships none. Its export wraps the Redis store in a
// layer that answers both callbacks and promises and turns its async iterators into the streams
// aedes 1.x pipes (aedes docs/MIGRATION.md names 11.2.1 as the first version for aedes 1.x).
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';

  export interface RedisPersistenceOptions {
    /** An existing connection (else one is made from ioredis options). */
    conn?: Redis;
    /** Offline messages delivered at CONNECT, at most (default 1000). */
    maxSessionDelivery?: number;
  }

  export interface RedisPersistence {
    setup(broker: unknown): Promise<void>;
    destroy(): Promise<void>;
  }

  export default function aedesPersistenceRedis(options?: RedisPersistenceOptions): RedisPersistence;
}
