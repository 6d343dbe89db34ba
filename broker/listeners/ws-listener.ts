import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { BrokerConfig } from '../config.js';
import { type Listening, listen } from './listen.js';
import type { ListenerDeps } from './listener-deps.js';

// MQTT packets may span WebSocket messages; one message is still never allowed to exceed the
// largest packet (plus its largest fixed header).
const FIXED_HEADER_MAX = 5;

/** MQTT over WebSocket (default port 8083, path /mqtt), for browsers. */
export async function startWsListener(config: BrokerConfig['ws'], maxPacketBytes: number, deps: ListenerDeps): Promise<Listening> {
  const server = createServer((_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
    response.end(`MQTT over WebSocket: connect to ${config.path} with a WebSocket client\n`);
  });
  // Half-open HTTP connections end like half-open MQTT ones.
  server.headersTimeout = deps.connectTimeoutMs;
  server.requestTimeout = deps.connectTimeoutMs;
  server.on('connection', (socket: Socket) => {
    if (deps.connections.admit(socket, 'ws')) socket.setNoDelay(true);
  });
  // ws answers with the first subprotocol the client offers ('mqtt' for MQTT.js and browsers).
  const wss = new WebSocketServer({ server, path: config.path, maxPayload: maxPacketBytes + FIXED_HEADER_MAX });
  wss.on('connection', (socket, request) => {
    const stream = createWebSocketStream(socket);
    deps.attach(stream, { listener: 'ws', remoteAddress: request.socket.remoteAddress ?? 'unknown' }, request);
  });
  wss.on('error', (error) => deps.log.warn({ err: error }, 'WebSocket server error'));
  const listening = await listen(server, config.host, config.port, 'ws.port');
  return {
    port: listening.port,
    close: async () => {
      wss.close();
      await listening.close();
    },
  };
}
