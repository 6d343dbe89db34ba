// preConnect: the checks on a CONNECT that come before authentication. aedes accepts a
// zero-length client id without clean session and assigns one, where MQTT 3.1.1 requires a
// refusal; and it caps client id length for MQTT 3.1 only. Both are decided here: the length cap,
// limits.maxClientIdLength (128 by default), for every protocol version. Like Mosquitto, it lets
// an MQTT 3.1 client use more than the 23 characters that version's spec allows.
import type { Client, ConnectPacket } from 'aedes';
import { BrokerError } from '../errors.js';
import { CONNACK_RESULTS, ConnackCode, type HookContext } from './hook-context.js';

type PreConnectCallback = (error: Error | null, success: boolean) => void;

export function createPreConnect(ctx: HookContext) {
  const { limits } = ctx.config;
  return (client: Client, packet: ConnectPacket, callback: PreConnectCallback): void => {
    const clientId = packet.clientId;
    const refuse = (reason: string) => refuseIdentifier(ctx, client, packet, reason, callback);
    if (clientId.length === 0) {
      // [MQTT-3.1.3-8]: a zero-byte ClientId with CleanSession 0 gets CONNACK 0x02 and the connection closes.
      if (!packet.clean) return refuse('zero-length client id without clean session [MQTT-3.1.3-8]');
      // MQTT 3.1 (protocol level 3) requires 1 to 23 characters; only 3.1.1 allows an empty one.
      if (packet.protocolVersion === 3) return refuse('zero-length client id in MQTT 3.1');
      // Otherwise aedes assigns a unique id, as [MQTT-3.1.3-6] requires.
    }
    if (clientId.length > limits.maxClientIdLength) {
      const remoteAddress = ctx.connections.infoOf(client.conn).remoteAddress;
      ctx.limits.hit(
        'client_id_length',
        remoteAddress,
        { remoteAddress, length: clientId.length, max: limits.maxClientIdLength },
        'client id too long',
      );
      return refuse(`client id of ${clientId.length} characters, over limits.maxClientIdLength`);
    }
    clampKeepalive(ctx, client, packet);
    ctx.sessions.setConnect(client, { clientId, will: packet.will ? { topic: packet.will.topic } : undefined });
    callback(null, true);
  };
}

/**
 * Keepalive bounds. MQTT 3.1.1 gives the server no way to refuse or change a keepalive, so the
 * server-side timer (1.5 x keepalive [MQTT-3.1.2-24]) is set from the bounded value: a client
 * asking for none (0) or hours is still dropped once it has been silent for 1.5 x the maximum.
 */
function clampKeepalive(ctx: HookContext, client: Client, packet: ConnectPacket): void {
  const { keepaliveMinSeconds: min, keepaliveMaxSeconds: max } = ctx.config.limits;
  const asked = packet.keepalive ?? 0;
  const bounded = asked === 0 ? max : Math.min(max, Math.max(min, asked));
  if (bounded === asked) return;
  packet.keepalive = bounded;
  ctx.limits.hit(
    'keepalive_adjusted',
    client,
    { clientId: packet.clientId, asked, used: bounded },
    'keepalive outside the bounds: adjusted',
  );
}

/** Sends CONNACK 0x02 itself (aedes would close without one) and lets aedes close the connection. */
function refuseIdentifier(ctx: HookContext, client: Client, packet: ConnectPacket, reason: string, callback: PreConnectCallback): void {
  const info = ctx.connections.infoOf(client.conn);
  const fields = { clientId: packet.clientId.slice(0, 64), remoteAddress: info.remoteAddress, listener: info.listener, reason };
  if (ctx.once.first(info.remoteAddress, 'identifier')) ctx.log.warn(fields, 'connection refused: identifier rejected');
  else ctx.log.debug(fields, 'connection refused: identifier rejected');
  ctx.metrics.connects.inc({ result: CONNACK_RESULTS[ConnackCode.identifierRejected] });
  const error = new BrokerError('BROKER_CLIENT_ID_REJECTED', reason);
  // CONNACK: type 2, remaining length 2, session present 0 [MQTT-3.2.2-4], return code.
  const connack = Buffer.from([0x20, 0x02, 0x00, ConnackCode.identifierRejected]);
  // The error makes aedes destroy the socket: only once the CONNACK has been handed to it [MQTT-3.2.2-5].
  client.conn.write(connack, () => callback(error, false));
}
