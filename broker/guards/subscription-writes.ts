// Workaround for how aedes 1.2 writes a persistent session's subscriptions (issue 13: a client
// with clean session off that subscribed to several filters in one SUBSCRIBE never got its SUBACK
// on the Redis persistence).
//
// aedes' storeSubscriptions (lib/handlers/subscribe.js) runs once per filter of a SUBSCRIBE, all at
// once, and each run calls persistence.addSubscriptions(client, packet.subscriptions) with the
// whole list, refused filters included (https://github.com/moscajs/aedes/issues/458). The Redis
// persistence (aedes-persistence's BroadcastPersistence, broadcastPersistence.js) then waits for its
// own $SYS/sub/add broadcast to come back through Redis, in a map keyed by client id and the list's
// FIRST topic. The N runs share that key: each overwrites the previous one's waiter, the first
// broadcast back resolves only the last run, the others never settle, and aedes, waiting for all
// of them, never writes the SUBACK. The same collision hangs two SUBSCRIBE (or UNSUBSCRIBE) packets
// of one client that start with the same filter and are handled together (aedes handles all the
// packets of one socket read at once, lib/client.js).
//
// So, for every persistence: the runs of one SUBSCRIBE share one write, of the filters the client
// was granted only; and one client's subscription writes run one after the other.
import type { Client, Subscription } from 'aedes';

/** The subscription writes of an aedes persistence, in the promise form aedes 1.x calls. */
export interface SubscriptionWrites {
  addSubscriptions(client: Client, subs: Subscription[]): Promise<unknown>;
  removeSubscriptions(client: Client, topics: string[]): Promise<unknown>;
  cleanSubscriptions(client: Client): Promise<unknown>;
}

/** May this client subscribe to this filter? The same answer authorizeSubscribe gave. */
export type MaySubscribe = (client: Client, filter: string) => boolean;

export function guardSubscriptionWrites(persistence: SubscriptionWrites, maySubscribe: MaySubscribe): void {
  const add = persistence.addSubscriptions.bind(persistence);
  const remove = persistence.removeSubscriptions.bind(persistence);
  const clean = persistence.cleanSubscriptions.bind(persistence);
  // Keyed by aedes' Client: a new connection starts afresh, whatever a dead one left waiting.
  const tails = new WeakMap<Client, Promise<unknown>>();
  // Keyed by the SUBSCRIBE's list, the same array in every run for that packet.
  const writes = new WeakMap<Subscription[], Promise<unknown>>();

  /** Runs `write` once the client's previous subscription write has settled. */
  const inTurn = (client: Client, write: () => Promise<unknown>): Promise<unknown> => {
    const previous = tails.get(client) ?? Promise.resolve();
    const result = previous.then(write, write);
    const tail = result.catch(() => undefined); // the caller gets the error; the queue goes on
    tails.set(client, tail);
    void tail.then(() => {
      if (tails.get(client) === tail) tails.delete(client);
    });
    return result;
  };

  persistence.addSubscriptions = (client, subs) => {
    let write = writes.get(subs);
    if (!write) {
      const granted = subs.filter((sub) => maySubscribe(client, sub.topic));
      write = granted.length === 0 ? Promise.resolve() : inTurn(client, () => add(client, granted));
      writes.set(subs, write);
    }
    return write;
  };
  persistence.removeSubscriptions = (client, topics) => inTurn(client, () => remove(client, topics));
  persistence.cleanSubscriptions = (client) => inTurn(client, () => clean(client));
}
