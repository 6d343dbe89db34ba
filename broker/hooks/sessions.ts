import type { Client } from 'aedes';
import type { TopicRights } from '../access/acl.js';
import type { ConnectionInfo } from './connections.js';
import type { Credential } from '../access/credentials.js';
import type { PublishThrottle } from '../guards/publish-throttle.js';

/** What the broker decided about one client at CONNECT: who it is and what it may do. */
export interface Session {
  /** Undefined for an anonymous client (auth.allowAnonymous). */
  readonly credential: Credential | undefined;
  readonly rights: TopicRights;
  readonly throttle: PublishThrottle;
  readonly info: ConnectionInfo;
}

/** The CONNECT fields the later hooks need, captured in preConnect. */
export interface ConnectRequest {
  readonly clientId: string;
  readonly will: { readonly topic: string } | undefined;
}

/**
 * Sessions by aedes client. Held weakly, because aedes asks about a client's will after its
 * socket has closed; `live` lists the connected ones so a credentials reload can find them.
 */
export class Sessions {
  private readonly byClient = new WeakMap<Client, Session>();
  private readonly connects = new WeakMap<Client, ConnectRequest>();
  private readonly live = new Set<Client>();

  setConnect(client: Client, request: ConnectRequest): void {
    this.connects.set(client, request);
  }

  connectOf(client: Client): ConnectRequest | undefined {
    return this.connects.get(client);
  }

  add(client: Client, session: Session): void {
    this.byClient.set(client, session);
    if (!client.closed) this.live.add(client);
  }

  get(client: Client): Session | undefined {
    return this.byClient.get(client);
  }

  /** The socket closed: stop counting it live and free what its session holds. */
  end(client: Client): void {
    this.live.delete(client);
    this.byClient.get(client)?.throttle.close();
  }

  *connected(): IterableIterator<[Client, Session]> {
    for (const client of this.live) {
      const session = this.byClient.get(client);
      if (session) yield [client, session];
    }
  }
}
