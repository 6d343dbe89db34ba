// An MQTT client on an in-memory stream pair, no socket: the way aedes' own suite tests its
// handlers (test/helper.js setup()). Packets are generated and parsed with mqtt-packet, the
// parser aedes and MQTT.js use; raw bytes can be sent too, for what mqtt-packet refuses to write
// (a zero-length client id without clean session, MQTT 3.1 without one).
import { type Duplex, duplexPair } from 'node:stream';
import type { Aedes } from 'aedes';
import { type IConnectPacket, type Packet, generate, parser } from 'mqtt-packet';
import type { ConnectionInfo, ListenerName } from '../../broker/hooks/connections.js';

/** Hands the server side of a connection to a broker, as a listener does. */
export type Attach = (stream: Duplex, info: ConnectionInfo) => unknown;

export interface DuplexOptions {
  remoteAddress?: string;
  listener?: ListenerName;
  certificateName?: string;
  /** How long next() waits for a packet before it rejects, in ms. */
  deadlineMs?: number;
}

export interface DuplexClient {
  send(packet: Packet): void;
  sendRaw(bytes: Buffer): void;
  /** The next packet from the broker; rejects once the deadline passes or the connection closes first. */
  next(deadlineMs?: number): Promise<Packet>;
  /** Sends CONNECT (MQTT 3.1.1, clean session, keepalive 60 unless given) and resolves with the answer. */
  connect(fields: Partial<IConnectPacket> & { clientId: string }): Promise<Packet>;
  /** Resolves when both ends have closed (whichever side closed first), and the broker's close listeners have run. */
  readonly closed: Promise<void>;
  readonly isClosed: () => boolean;
  destroy(): void;
}

const DEFAULT_DEADLINE_MS = 2000;

type Waiter = { resolve: (packet: Packet) => void; reject: (error: Error) => void };

/** Connects to `target`: an Aedes (handle()), or a function that attaches as the broker's listeners do. */
export function connectDuplex(target: Aedes | Attach, options: DuplexOptions = {}): DuplexClient {
  const [client, server] = duplexPair();
  const info: ConnectionInfo = {
    listener: options.listener ?? 'tcp',
    remoteAddress: options.remoteAddress ?? '192.0.2.1',
    certificateName: options.certificateName,
  };
  const packets = packetQueue(client, options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  // Registered before the broker's own listeners, so that by the time `closed` resolves they have all run.
  const serverClosed = new Promise<void>((resolve) => server.once('close', resolve));
  // Either side ending ends the other, as a socket would (aedes' helper does the same).
  server.on('close', () => client.destroy());
  server.on('end', () => client.destroy());
  client.on('close', () => server.destroy());
  client.on('end', () => client.destroy());
  // A write after the broker closed is expected in tests that are refused; the queue reports the close.
  client.on('error', () => undefined);
  if (typeof target === 'function') target(server, info);
  else target.handle(server);
  const send = (packet: Packet) => void client.write(generate(packet));
  return {
    send,
    sendRaw: (bytes) => void client.write(bytes),
    next: packets.next,
    connect: (fields) => {
      send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, ...fields });
      return packets.next();
    },
    closed: Promise.all([packets.closed, serverClosed]).then(() => undefined),
    isClosed: () => packets.isClosed(),
    destroy: () => client.destroy(),
  };
}

/** The packets read from `stream`, handed out in order; waiting callers fail at their deadline or at close. */
function packetQueue(stream: Duplex, defaultDeadlineMs: number) {
  const received: Packet[] = [];
  const waiting: Waiter[] = [];
  let ended = false;
  let failure: Error | undefined;
  const packetParser = parser({ protocolVersion: 4 });
  packetParser.on('packet', (packet: Packet) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(packet);
    else received.push(packet);
  });
  packetParser.on('error', (error: Error) => (failure = error));
  stream.on('data', (chunk: Buffer) => packetParser.parse(chunk));
  const closed = new Promise<void>((resolve) =>
    stream.once('close', () => {
      ended = true;
      for (const waiter of waiting.splice(0)) waiter.reject(failure ?? new Error('the connection closed before the next packet'));
      resolve();
    }),
  );
  const next = (deadlineMs = defaultDeadlineMs): Promise<Packet> => {
    const packet = received.shift();
    if (packet) return Promise.resolve(packet);
    if (failure) return Promise.reject(failure);
    if (ended) return Promise.reject(new Error('the connection closed before the next packet'));
    return new Promise<Packet>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(waiter), 1);
        reject(new Error(`no packet from the broker within ${deadlineMs} ms`));
      }, deadlineMs);
      waiting.push(waiter);
    });
  };
  return { next, closed, isClosed: () => ended };
}
