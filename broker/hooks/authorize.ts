// authorizePublish / authorizeSubscribe / authorizeForward: each client's TopicRights applied
// to what it sends, subscribes to, and receives.
import type { AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';
import { BrokerError } from '../errors.js';
import type { HookContext } from './hook-context.js';

type PublishCallback = (error?: Error | null) => void;
type SubscribeCallback = (error: Error | null, subscription?: Subscription | null) => void;

// A client this far behind its publish rate is not slowed down any more but disconnected: what
// it has sent is already parsed and held in memory.
const MAX_THROTTLED = 10_000;

export function createAuthorizers(ctx: HookContext) {
  const { received, delivered } = ctx.metrics;
  const forwardDenied = ctx.metrics.dropped.labels({ reason: 'forward_denied' });

  const deny = (client: Client, kind: 'publish' | 'subscribe' | 'will', topic: string, role: string) => {
    ctx.metrics.denied.inc({ kind, role });
    const fields = { clientId: client.id, role, kind, topic: topic.slice(0, 200) };
    if (ctx.once.first(client, `denied:${kind}`)) ctx.log.warn(fields, `${kind} denied`);
    else ctx.log.debug(fields, `${kind} denied`);
  };

  const authorizePublish = (client: Client | null, packet: PublishPacket, callback: PublishCallback): void => {
    // A null client is a will left by a cluster node that died; that node checked it at CONNECT.
    if (!client) return callback(null);
    const session = ctx.sessions.get(client);
    // aedes asks about a client's will as it closes, passing the will itself (lib/client.js close()).
    const isWill = packet === (client as unknown as { will?: unknown }).will;
    if (!session || !session.rights.canPublish(packet.topic)) {
      deny(client, isWill ? 'will' : 'publish', packet.topic, session?.rights.role ?? 'none');
      if (isWill) return callback(new Error('will not allowed')); // not published
      ctx.metrics.dropped.inc({ reason: 'publish_denied' });
      ctx.drop(packet); // acknowledged as QoS requires, then dropped [MQTT-3.3.5-2]
      return callback(null);
    }
    if (isWill) return callback(null);
    received[packet.qos] = (received[packet.qos] ?? 0) + 1;
    if (session.throttle.take(() => callback(null))) return;
    ctx.limits.hit(
      'publish_rate',
      client,
      { clientId: client.id, rate: ctx.config.limits.publishRatePerSecond },
      'publish rate exceeded: client slowed down',
    );
    if (session.throttle.queued > MAX_THROTTLED) {
      client.conn.destroy(
        new BrokerError('BROKER_PUBLISH_RATE_EXCEEDED', `over ${MAX_THROTTLED} PUBLISH packets waiting for the rate limit`),
      );
    }
  };

  const authorizeSubscribe = (client: Client, subscription: Subscription, callback: SubscribeCallback): void => {
    const session = ctx.sessions.get(client);
    if (session?.rights.canSubscribe(subscription.topic)) return callback(null, subscription);
    deny(client, 'subscribe', subscription.topic, session?.rights.role ?? 'none');
    callback(null, null); // SUBACK return code 0x80, Failure (MQTT 3.1.1 section 3.9.3)
  };

  // Subscriptions were checked when made; this catches what a filter check cannot (retained
  // messages, rights changed by a credentials reload) for every single delivery.
  const authorizeForward = (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null => {
    if (ctx.sessions.get(client)?.rights.canReceive(packet.topic)) {
      delivered[packet.qos] = (delivered[packet.qos] ?? 0) + 1;
      return packet;
    }
    forwardDenied.inc();
    return null;
  };

  return { authorizePublish, authorizeSubscribe, authorizeForward };
}
