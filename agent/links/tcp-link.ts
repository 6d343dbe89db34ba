import { type Socket, connect } from 'node:net';
import { AgentError } from '../errors.js';
import type { Connection, Opener } from './reopening-link.js';

export interface TcpOpenerOptions {
  host: string;
  port: number;
  /** How long one attempt may take: a gateway that is off drops SYNs instead of refusing. */
  connectTimeoutMs: number;
}

/** TCP keepalive: a gateway that lost power is noticed within minutes, not hours. */
const KEEPALIVE_MS = 10_000;

/**
 * Opens `tcp://host:port`: the raw bytes of a serial line behind a serial-to-Ethernet gateway
 * or ser2net in raw mode (hardware spec §20), nothing added. Kept open by ReopeningLink exactly
 * as a serial port is.
 */
export function tcpOpener({ host, port, connectTimeoutMs }: TcpOpenerOptions): Opener {
  const where = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return ({ onData, onClose }) =>
    new Promise<Connection>((resolve, reject) => {
      const socket: Socket = connect({ host, port });
      let lastError: Error | undefined;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new AgentError('AGENT_TCP_CONNECT_FAILED', `${where}: no connection within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      socket.on('error', (error) => (lastError = error));
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, KEEPALIVE_MS);
        socket.on('data', (chunk: Buffer) => onData(chunk));
        socket.once('close', () => onClose(lastError ? `connection lost: ${lastError.message}` : 'connection closed by the peer'));
        resolve({
          write: (data) => {
            if (socket.writable) socket.write(data);
          },
          close: () =>
            new Promise<void>((done) => {
              if (socket.destroyed) return done();
              socket.once('close', () => done());
              socket.destroy();
            }),
        });
      });
      socket.once('close', () => {
        clearTimeout(timer);
        // Before 'connect' the attempt failed (refused, unreachable); after it the promise is
        // settled, this is a no-op, and onClose above reports the loss.
        reject(new AgentError('AGENT_TCP_CONNECT_FAILED', `${where}: ${lastError?.message ?? 'connection closed'}`, { cause: lastError }));
      });
    });
}
