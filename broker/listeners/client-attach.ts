// Hands one connection (a TCP or TLS socket, or a WebSocket stream) to aedes, with the guards
// aedes lacks: maximum packet size, and the per-subscriber delivery queue; and its deliveries'
// writes coalesced.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import type { BrokerConfig } from '../config.js';
import type { ConnectionInfo, ConnectionRegistry } from '../hooks/connections.js';
import { BrokerError } from '../errors.js';
import type { LimitReporter } from '../guards/limit-reporter.js';
import { PacketSizeGuard } from '../guards/packet-size-guard.js';
import type { Sessions } from '../hooks/sessions.js';
import { type Deliver, SubscriberQueue } from '../guards/subscriber-queue.js';
import { coalesceWrites } from '../guards/write-coalescing.js';

export interface AttachDeps {
  readonly aedes: Aedes;
  readonly connections: ConnectionRegistry;
  readonly sessions: Sessions;
  readonly limits: LimitReporter;
  readonly config: BrokerConfig['limits'];
}

// aedes' Client builds these per client and reads them when a subscription is added; not in its types.
interface DeliveringClient {
  deliver0: Deliver;
  deliverQoS: Deliver;
}

export function attachClient(deps: AttachDeps, stream: Duplex, info: ConnectionInfo, request?: IncomingMessage): void {
  deps.connections.describe(stream, info);
  const client = deps.aedes.handle(stream, request);
  const fields = () => ({ clientId: client.id, remoteAddress: info.remoteAddress, listener: info.listener });

  // Attached after aedes' own 'readable' listener: the stream stays paused, and 'data' fires for
  // exactly the chunks aedes reads, just before its parser sees them.
  const guard = new PacketSizeGuard(deps.config.maxPacketBytes);
  stream.on('data', (chunk: Buffer) => {
    const size = guard.feed(chunk);
    if (size === undefined) return;
    deps.limits.hit(
      'max_packet_size',
      client,
      { ...fields(), size, max: deps.config.maxPacketBytes },
      'packet too large: client disconnected',
    );
    stream.destroy(new BrokerError('BROKER_PACKET_TOO_LARGE', `packet of ${size} bytes, over limits.maxPacketBytes`));
  });

  const pacedRoles: readonly string[] = deps.config.pacedRoles;
  const paced = () => {
    const role = deps.sessions.get(client)?.rights.role;
    return role !== undefined && pacedRoles.includes(role);
  };
  const queue = new SubscriberQueue(
    { paced, stallMs: deps.config.subscriberStallMs, maxMessages: deps.config.maxQueuedMessages, maxBytes: deps.config.maxQueuedBytes },
    {
      onPacing: (queued) =>
        deps.limits.hit(
          'subscriber_paced',
          client,
          { ...fields(), ...queued },
          'subscriber not keeping up: publishers are slowed to its pace',
        ),
      onStall: (queued) =>
        deps.limits.hit(
          'subscriber_stall',
          client,
          { ...fields(), ...queued },
          'subscriber not keeping up: its messages now queue for it alone',
        ),
      onOverflow: (queued) => {
        deps.limits.hit('subscriber_queue', client, { ...fields(), ...queued }, 'subscriber queue full: client disconnected');
        stream.destroy(new BrokerError('BROKER_SUBSCRIBER_QUEUE_FULL', `${queued.messages} messages, ${queued.bytes} bytes queued`));
      },
    },
  );
  const delivering = client as unknown as DeliveringClient;
  const deliver0 = queue.wrap(coalesceWrites(stream, delivering.deliver0));
  const deliverQoS = queue.wrap(coalesceWrites(stream, delivering.deliverQoS));
  delivering.deliver0 = deliver0;
  // aedes' deliverQoS hands QoS 0 messages to deliver0: route them there directly, counted once.
  delivering.deliverQoS = (packet, done) => (packet.qos === 0 ? deliver0(packet, done) : deliverQoS(packet, done));

  stream.once('close', () => {
    queue.close();
    deps.sessions.end(client);
  });
}
