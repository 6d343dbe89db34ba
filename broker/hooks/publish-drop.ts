import type { Aedes, Client, PublishPacket } from 'aedes';

// A denied PUBLISH cannot be refused in MQTT 3.1.1: the server "MUST either make a positive
// acknowledgement, according to the normal QoS rules, or close the Network Connection"
// [MQTT-3.3.5-2]. aedes can only do the second (an error from authorizePublish closes the
// connection), so denied packets are marked there and skipped here, after aedes has sent the
// PUBACK/PUBREC: acknowledged, then dropped, neither stored as retained nor routed.

type Done = (error?: Error) => void;
interface AedesPublish {
  // aedes' own handlers call publish(packet, client, done); its type declaration omits `client`.
  publish(packet: PublishPacket, client: Client | null | Done, done?: Done): void;
}

export type DropPacket = (packet: PublishPacket) => void;

/** Makes `aedes` skip the packets passed to the returned function. */
export function installPublishDrop(aedes: Aedes): DropPacket {
  const marked = new WeakSet<PublishPacket>();
  const broker = aedes as unknown as AedesPublish;
  const original = broker.publish.bind(aedes);
  broker.publish = (packet, client, done) => {
    if (marked.has(packet)) {
      marked.delete(packet);
      const callback = typeof client === 'function' ? client : done;
      if (callback) setImmediate(callback);
      return;
    }
    original(packet, client, done);
  };
  return (packet) => marked.add(packet);
}
