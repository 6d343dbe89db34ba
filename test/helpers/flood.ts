// Load for the flood tests: raw-socket subscribers (one of which can stop reading its socket,
// like a frozen client) and raw-socket publishers that write thousands of PUBLISH packets at once.
import { type ConnectFields, RawClient, encodePublish, encodeSubscribe } from './mqtt-wire.js';

type Credentials = Pick<ConnectFields, 'username' | 'password'>;

/** Connects, subscribes to `filter` and waits for the SUBACK. */
export async function rawSubscriber(
  port: number,
  clientId: string,
  filter: string,
  qos: 0 | 1,
  credentials: Credentials = {},
): Promise<RawClient> {
  const client = await RawClient.connect(port);
  const code = await client.connack({ clientId, keepalive: 0, ...credentials });
  if (code !== 0) throw new Error(`${clientId}: CONNACK ${code}`);
  client.write(encodeSubscribe(1, [{ topic: filter, qos }]));
  await client.next(9);
  return client;
}

/** Stops reading the socket, as a hung client does: the broker's writes fill the TCP buffers. */
export function freeze(client: RawClient): void {
  client.socket.pause();
}

export interface FloodOptions {
  publishers: number;
  messagesEach: number;
  topic: string;
  payloadBytes: number;
  credentials?: Credentials;
}

/** Connects `publishers` clients and has each write `messagesEach` QoS 0 PUBLISH packets in one go. */
export async function flood(port: number, options: FloodOptions): Promise<RawClient[]> {
  const packet = encodePublish(options.topic, Buffer.alloc(options.payloadBytes, 0x41), 0);
  const burst = Buffer.concat(Array.from({ length: options.messagesEach }, () => packet));
  const clients: RawClient[] = [];
  for (let i = 0; i < options.publishers; i += 1) {
    const client = await RawClient.connect(port);
    clients.push(client);
    const code = await client.connack({ clientId: `flood-${i}`, keepalive: 0, ...options.credentials });
    if (code !== 0) throw new Error(`flood-${i}: CONNACK ${code}`);
    client.write(burst);
  }
  return clients;
}
