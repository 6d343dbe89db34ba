// The two MQTT.js internals that deferred-puback.ts relies on, checked against a real broker: if
// an MQTT.js upgrade changes either, this fails before any reading is lost or stored twice.
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type Mosquitto, startMosquitto } from '../../test/helpers/mosquitto.js';
import { describeWithProgram } from '../../test/helpers/require-program.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { handleMessagesWithDeferredPuback, sendPuback } from './deferred-puback.js';

describeWithProgram('mosquitto', 'mosquitto', 'deferred PUBACK on MQTT.js', () => {
  let broker: Mosquitto;
  const clients: MqttClient[] = [];
  beforeEach(async () => {
    broker = await startMosquitto();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
    await broker.stop();
  });

  /** A persistent-session subscriber that takes every message at once and acknowledges none by itself. */
  async function subscriber(received: IPublishPacket[]): Promise<MqttClient> {
    const client = mqtt.connect(broker.url, { clientId: 'deferred-test', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(client);
    handleMessagesWithDeferredPuback(client, (packet) => {
      received.push(packet);
      return { ready: () => Promise.resolve() };
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync('deferred/#', { qos: 1 });
    return client;
  }

  it('takes the next message before the first is acknowledged, sends only the PUBACKs asked for, and the broker resends the rest', async () => {
    const first: IPublishPacket[] = [];
    const client = await subscriber(first);
    const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    clients.push(publisher);
    for (const n of [1, 2, 3]) await publisher.publishAsync(`deferred/${n}`, `message ${n}`, { qos: 1 });
    // All three arrive although none is acknowledged: MQTT.js went on without a PUBACK.
    await waitFor(() => first.length === 3, { timeoutMs: 5000, what: 'three messages' });
    sendPuback(client, first[0]?.messageId ?? 0);
    // A clean DISCONNECT goes out after the PUBACK on the same socket; the session stays (clean session off).
    await client.endAsync();

    const again: IPublishPacket[] = [];
    await subscriber(again);
    await waitFor(() => again.length === 2, { timeoutMs: 5000, what: 'the two unacknowledged messages again' });
    expect(again.map((packet) => packet.topic)).toEqual(['deferred/2', 'deferred/3']);
    expect(again.every((packet) => packet.dup)).toBe(true);
  });
});
