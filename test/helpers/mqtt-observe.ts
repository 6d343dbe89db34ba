// What a real MQTT.js client is granted and what reaches it: the two probes of the topic-rights
// tests (ours and Mosquitto's).
import type { IClientSubscribeOptions, MqttClient } from 'mqtt';

/** Rejects with `what` if `promise` has not settled within `ms`: a missing SUBACK fails fast, not at the test timeout. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * The SUBACK return codes for one SUBSCRIBE of `filters` at `qos` (0x80 = 128: refused). MQTT.js
 * rejects when one of them is 0x80, with the SUBACK attached.
 */
export async function grants(client: MqttClient, filters: string[], qos: IClientSubscribeOptions['qos'] = 1): Promise<number[]> {
  const suback = client.subscribeAsync(filters, { qos }).then(
    (granted) => granted.map((grant) => grant.qos),
    (error: unknown) => {
      const granted = (error as { packet?: { granted?: number[] } }).packet?.granted;
      if (!granted) throw error;
      return granted;
    },
  );
  return within(suback, 5000, `SUBACK for ${filters.join(', ')}`);
}

/** Messages received by `client` from now on, as `topic payload` strings. */
export function inbox(client: MqttClient): string[] {
  const received: string[] = [];
  client.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
  return received;
}

/** Clients a test connects, ended together in its afterEach: `track(connectAs(...))`, then `endAll()`. */
export function trackedClients(): { track: (client: Promise<MqttClient>) => Promise<MqttClient>; endAll: () => Promise<void> } {
  const clients: MqttClient[] = [];
  return {
    async track(client) {
      const connected = await client;
      clients.push(connected);
      return connected;
    },
    async endAll() {
      await Promise.all(clients.splice(0).map((connected) => connected.endAsync(true)));
    },
  };
}
