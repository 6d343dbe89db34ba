import type { IPublishPacket, MqttClient } from 'mqtt';

// Acknowledging a message after its commit, without holding up the messages behind it.
//
// MQTT.js sends the PUBACK of a QoS 1 message when `client.handleMessage(packet, done)` calls
// `done()`, and it handles the next packet of the connection only after that: one message at a
// time. Waiting for each commit there would mean one transaction per message, and no way to batch
// writes across messages. MQTT.js has no public manual-acknowledgement API (see
// https://github.com/mqttjs/MQTT.js/issues/691), so this module uses two internals of MQTT.js
// 5.16 (pinned in package.json), both covered by backend/ingest/deferred-puback.test.ts against a
// real broker:
//   1. `done(error)` in handleMessage makes MQTT.js go on to the next packet and send no PUBACK
//      (lib/handlers/publish.js: `if (err) return done && done(err)`; the work loop ignores it);
//   2. `client._sendPacket({ cmd: 'puback', messageId })` sends the PUBACK later, on the same
//      connection.
// Nothing else is needed: MQTT.js keeps no state for received QoS 1 messages.

/** What `done` receives so that MQTT.js moves on without a PUBACK; never reported anywhere. */
const DEFERRED = Object.freeze(new Error('PUBACK deferred until the message is committed'));

type Handler = (packet: IPublishPacket) => { ready: () => Promise<void> };

interface PacketSender {
  _sendPacket(packet: { cmd: 'puback'; messageId: number }, callback?: () => void): void;
}

/**
 * Installs `handler` as the client's message handler. The handler takes each message at once and
 * returns `ready`, which resolves once MQTT.js may hand over the next message (back-pressure: it
 * stays pending while too much is uncommitted).
 */
export function handleMessagesWithDeferredPuback(client: MqttClient, handler: Handler): void {
  client.handleMessage = (packet, done) => {
    let ready: Promise<void>;
    try {
      ready = handler(packet).ready();
    } catch (error) {
      ready = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    // Never `done()` plain: that would send a PUBACK now, before the commit.
    ready.then(
      () => done(DEFERRED),
      () => done(DEFERRED),
    );
  };
}

export function sendPuback(client: MqttClient, messageId: number): void {
  (client as unknown as PacketSender)._sendPacket({ cmd: 'puback', messageId });
}
