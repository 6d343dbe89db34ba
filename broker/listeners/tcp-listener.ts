import { type Socket, createServer } from 'node:net';
import type { BrokerConfig } from '../config.js';
import type { ConnectionInfo } from '../hooks/connections.js';
import { type Listening, listen } from './listen.js';
import type { ListenerDeps } from './listener-deps.js';

/** Plain MQTT over TCP (default port 1883). */
export async function startTcpListener(config: BrokerConfig['tcp'], deps: ListenerDeps): Promise<Listening> {
  // noDelay: MQTT packets are written whole; Nagle's algorithm would only add latency.
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    if (!deps.connections.admit(socket, 'tcp')) return;
    const info: ConnectionInfo = { listener: 'tcp', remoteAddress: socket.remoteAddress ?? 'unknown' };
    deps.attach(socket, info);
  });
  return listen(server, config.host, config.port, 'tcp.port');
}
