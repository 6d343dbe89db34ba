// The aedes instance as the broker runs it: the credentials its hooks read, its options, our hooks
// on it, and the guards that need its emitter and persistence. broker.ts assembles the broker from
// these; the hooks' unit tests (test/helpers/hooked-aedes.ts) build their aedes from them too, so
// both run the same code.
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { CredentialStore } from '../access/credential-store.js';
import { watchBrokerEvents } from '../broker-events.js';
import type { BrokerConfig } from '../config.js';
import { OncePerKey } from '../../contract/log-once.js';
import { guardMqEmitter } from '../guards/mq-guards.js';
import { type SubscriptionWrites, guardSubscriptionWrites } from '../guards/subscription-writes.js';
import type { BrokerMetrics } from '../metrics/metrics.js';
import type { PersistenceChoice } from '../persistence.js';
import { createAuthenticate } from './authenticate.js';
import { createAuthorizers } from './authorize.js';
import { createPreConnect } from './connect-checks.js';
import type { HookContext } from './hook-context.js';
import { installPublishDrop } from './publish-drop.js';
import type { Sessions } from './sessions.js';

// aedes' default: messages in flight at once through the emitter.
export const CONCURRENCY = 100;

/** What the hooks share that the broker builds before aedes; the rest of the HookContext is made here. */
export type HookParts = Omit<HookContext, 'once' | 'drop'>;

/** The credentials file, loaded; a client whose credentials change or go is disconnected. */
export async function loadCredentials(
  config: BrokerConfig,
  deps: { sessions: Sessions; metrics: BrokerMetrics; log: Logger },
): Promise<CredentialStore> {
  const { sessions, metrics, log } = deps;
  const credentials = new CredentialStore(config.auth.passwordFile, metrics, log, (changed) => {
    const names = new Set(changed);
    for (const [client, session] of sessions.connected()) {
      if (session.credential && names.has(session.credential.username)) {
        log.info({ clientId: client.id, username: session.credential.username }, 'credentials changed or removed: client disconnected');
        client.close();
      }
    }
  });
  try {
    await credentials.load();
  } catch (error) {
    credentials.close();
    throw error;
  }
  return credentials;
}

export function createAedes(config: BrokerConfig, persistence: PersistenceChoice): Aedes {
  const broker = new Aedes({
    id: config.brokerId,
    persistence: persistence.persistence,
    mq: persistence.mq,
    concurrency: CONCURRENCY,
    heartbeatInterval: config.sys.heartbeatIntervalMs,
    connectTimeout: config.limits.connectTimeoutMs,
    drainTimeout: config.limits.drainTimeoutMs,
    maxClientsIdLength: config.limits.maxClientIdLength,
  });
  guardMqEmitter((broker as unknown as { mq: unknown }).mq);
  return broker;
}

/** Installs preConnect, authenticate, the authorizers and the publish drop, and watches aedes' events. */
export function installHooks(broker: Aedes, parts: HookParts, log: Logger): HookContext {
  const ctx: HookContext = { ...parts, once: new OncePerKey(), drop: installPublishDrop(broker) };
  broker.preConnect = createPreConnect(ctx);
  broker.authenticate = createAuthenticate(ctx);
  Object.assign(broker, createAuthorizers(ctx));
  watchBrokerEvents(broker, {
    metrics: ctx.metrics,
    limits: ctx.limits,
    connections: ctx.connections,
    log: log.child({ component: 'broker:clients' }),
  });
  return ctx;
}

/** Starts aedes (it sets up its persistence in listen()), then guards that persistence's subscription writes. */
export async function listenAedes(broker: Aedes, sessions: Sessions): Promise<void> {
  await broker.listen();
  // aedes sets `persistence` in listen() and leaves it untyped. Without the guard a persistent
  // session's subscriptions hang on Redis (issue 13).
  guardSubscriptionWrites((broker as unknown as { persistence: SubscriptionWrites }).persistence, (client, filter) =>
    Boolean(sessions.get(client)?.rights.canSubscribe(filter)),
  );
}
