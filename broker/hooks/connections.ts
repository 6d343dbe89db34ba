import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { LimitReporter } from '../guards/limit-reporter.js';

export type ListenerName = 'tcp' | 'tls' | 'ws';
export const LISTENER_NAMES: readonly ListenerName[] = ['tcp', 'tls', 'ws'];

/** What the broker knows about a connection before (and besides) its CONNECT. */
export interface ConnectionInfo {
  readonly listener: ListenerName;
  readonly remoteAddress: string;
  /** Common name of a client certificate that the TLS listener verified against tls.caFile. */
  readonly certificateName?: string | undefined;
}

/**
 * Every open network socket of every listener: counted against limits.maxConnections (checked
 * before any byte is read, so half-open connections count too), and destroyed at shutdown.
 */
export class ConnectionRegistry {
  private readonly open = new Map<ListenerName, Set<Socket>>(LISTENER_NAMES.map((name) => [name, new Set()]));
  private readonly info = new WeakMap<object, ConnectionInfo>();
  private total = 0;

  constructor(
    private readonly maxConnections: number,
    private readonly limits: LimitReporter,
    private readonly log: Logger,
  ) {}

  /** Counts a new socket; destroys it and returns false when the broker is full. */
  admit(socket: Socket, listener: ListenerName): boolean {
    if (this.total >= this.maxConnections) {
      const remoteAddress = socket.remoteAddress ?? 'unknown';
      this.limits.hit(
        'max_connections',
        remoteAddress,
        { listener, remoteAddress, max: this.maxConnections },
        'connection refused: too many connections',
      );
      socket.destroy();
      return false;
    }
    const sockets = this.open.get(listener);
    sockets?.add(socket);
    this.total += 1;
    socket.once('close', () => {
      sockets?.delete(socket);
      this.total -= 1;
    });
    // A reset by a client that is already gone is routine; aedes logs errors of MQTT clients.
    socket.on('error', (error) => this.log.debug({ listener, err: error }, 'socket error'));
    return true;
  }

  count(listener: ListenerName): number {
    return this.open.get(listener)?.size ?? 0;
  }

  get size(): number {
    return this.total;
  }

  /** Remembers what is known of the stream that aedes will see as `client.conn`. */
  describe(stream: object, info: ConnectionInfo): void {
    this.info.set(stream, info);
  }

  infoOf(stream: object): ConnectionInfo {
    return this.info.get(stream) ?? { listener: 'tcp', remoteAddress: 'unknown' };
  }

  destroyAll(): void {
    for (const sockets of this.open.values()) for (const socket of sockets) socket.destroy();
  }
}
