import type { Client, Subscription } from 'aedes';
import { describe, expect, it } from 'vitest';
import { type SubscriptionWrites, guardSubscriptionWrites } from './subscription-writes.js';

/** A persistence that records each write and finishes it only when told to. */
function recordingPersistence() {
  const calls: string[] = [];
  const pending: Array<() => void> = [];
  const write = (what: string) => {
    calls.push(what);
    return new Promise<void>((resolve) => pending.push(resolve));
  };
  const persistence: SubscriptionWrites = {
    addSubscriptions: (client, subs) => write(`add ${client.id} ${subs.map((sub) => sub.topic).join(',')}`),
    removeSubscriptions: (client, topics) => write(`remove ${client.id} ${topics.join(',')}`),
    cleanSubscriptions: (client) => write(`clean ${client.id}`),
  };
  return { persistence, calls, finishNext: () => pending.shift()?.() };
}

const client = (id: string) => ({ id }) as Client;
const subs = (...topics: string[]): Subscription[] => topics.map((topic) => ({ topic, qos: 1 }));
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('guardSubscriptionWrites', () => {
  it("writes one SUBSCRIBE's list once, with its granted filters only, however many times aedes asks", async () => {
    const { persistence, calls, finishNext } = recordingPersistence();
    guardSubscriptionWrites(persistence, (_client, filter) => !filter.startsWith('cmd/v1/other'));
    const a = client('a');
    const list = subs('cmd/v1/a/#', 'cmd/v1/other/#', 'cmd/v1/a/x');
    const runs = list.map(() => persistence.addSubscriptions(a, list));
    await turn();
    expect(calls).toEqual(['add a cmd/v1/a/#,cmd/v1/a/x']);
    finishNext();
    await Promise.all(runs);
  });

  it('runs the writes of one client one after the other, of different clients side by side', async () => {
    const { persistence, calls, finishNext } = recordingPersistence();
    guardSubscriptionWrites(persistence, () => true);
    const [a, b] = [client('a'), client('b')];
    const first = persistence.addSubscriptions(a, subs('x'));
    const second = persistence.addSubscriptions(a, subs('x'));
    const third = persistence.removeSubscriptions(a, ['x']);
    const other = persistence.addSubscriptions(b, subs('x'));
    await turn();
    expect(calls).toEqual(['add a x', 'add b x']);
    finishNext();
    await first;
    await turn();
    expect(calls).toEqual(['add a x', 'add b x', 'add a x']);
    finishNext();
    finishNext();
    await Promise.all([second, other]);
    await turn();
    expect(calls.at(-1)).toBe('remove a x');
    finishNext();
    await third;
  });

  it('answers at once when no filter of the list was granted', async () => {
    const { persistence, calls } = recordingPersistence();
    guardSubscriptionWrites(persistence, () => false);
    await persistence.addSubscriptions(client('a'), subs('#'));
    expect(calls).toEqual([]);
  });
});
