import type { AedesPublishPacket } from 'aedes';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type QueuedAmount, SubscriberQueue, type SubscriberQueueLimits } from './subscriber-queue.js';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const packet = (bytes = 10) => ({ payload: Buffer.alloc(bytes), qos: 0 }) as unknown as AedesPublishPacket;

/** A client whose writes complete only when told to. */
function socketLike() {
  const writes: Array<() => void> = [];
  return { writes, deliver: (_p: AedesPublishPacket, done: () => void) => writes.push(done) };
}

function setup(limits: SubscriberQueueLimits = { stallMs: 100, maxMessages: 5, maxBytes: 1000 }) {
  const events = { stalls: [] as QueuedAmount[], overflows: [] as QueuedAmount[], pacings: [] as QueuedAmount[] };
  const queue = new SubscriberQueue(
    limits,
    { onStall: (q) => events.stalls.push(q), onOverflow: (q) => events.overflows.push(q), onPacing: (q) => events.pacings.push(q) },
    () => Date.now(),
  );
  const client = socketLike();
  return { queue, events, client, deliver: queue.wrap(client.deliver) };
}

describe('SubscriberQueue', () => {
  it('frees the slot when the write completes while the client keeps up', () => {
    const { deliver, client, events } = setup();
    const freed = vi.fn();
    deliver(packet(), freed);
    expect(freed).not.toHaveBeenCalled();
    client.writes[0]?.();
    expect(freed).toHaveBeenCalledOnce();
    vi.advanceTimersByTime(1000);
    expect(events.stalls).toEqual([]);
  });

  it('after stallMs blocked, frees the held slots and queues further messages for this client alone', () => {
    const { deliver, client, events } = setup();
    const freed = vi.fn();
    deliver(packet(), freed);
    deliver(packet(), freed);
    vi.advanceTimersByTime(99);
    expect(freed).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2);
    expect(freed).toHaveBeenCalledTimes(2);
    expect(events.stalls).toEqual([{ messages: 2, bytes: 20 }]);
    deliver(packet(), freed); // decoupled: freed on the next turn, although still not written
    vi.advanceTimersByTime(1);
    expect(freed).toHaveBeenCalledTimes(3);
    expect(client.writes).toHaveLength(3); // still handed to the client, in order
    // Once caught up it paces publishers again.
    client.writes.forEach((write) => write());
    deliver(packet(), freed);
    vi.advanceTimersByTime(1);
    expect(freed).toHaveBeenCalledTimes(3);
  });

  it('overflows once past maxMessages or maxBytes, and drops what comes after', () => {
    const { deliver, client, events } = setup();
    const freed = vi.fn();
    for (let i = 0; i < 7; i += 1) deliver(packet(), freed);
    expect(events.overflows).toEqual([{ messages: 5, bytes: 50 }]);
    expect(client.writes).toHaveLength(5);
    vi.advanceTimersByTime(1);
    expect(freed).toHaveBeenCalledTimes(7); // nothing holds a slot any more
    const bytes = setup({ stallMs: 100, maxMessages: 100, maxBytes: 25 });
    bytes.deliver(packet(), freed);
    bytes.deliver(packet(), freed);
    bytes.deliver(packet(), freed);
    expect(bytes.events.overflows).toEqual([{ messages: 2, bytes: 20 }]);
  });

  it('a paced client keeps holding its slots however long it is blocked: publishers wait for it', () => {
    const { deliver, client, events } = setup({ paced: () => true, stallMs: 100, maxMessages: 5, maxBytes: 1000 });
    const freed = vi.fn();
    deliver(packet(), freed);
    deliver(packet(), freed);
    vi.advanceTimersByTime(60_000);
    expect(freed).not.toHaveBeenCalled();
    expect(events.stalls).toEqual([]);
    expect(events.pacings).toEqual([{ messages: 2, bytes: 20 }]); // reported once for the episode
    client.writes.forEach((write) => write());
    expect(freed).toHaveBeenCalledTimes(2);
    // A new episode is reported again.
    deliver(packet(), freed);
    vi.advanceTimersByTime(101);
    expect(events.pacings).toHaveLength(2);
    expect(freed).toHaveBeenCalledTimes(2);
    // Nor is it cut off by the queue bounds: it holds no more than the emitter's slots.
    for (let i = 0; i < 7; i += 1) deliver(packet(), freed);
    expect(events.overflows).toEqual([]);
  });

  it('close() frees every held slot', () => {
    const { deliver, queue } = setup();
    const freed = vi.fn();
    deliver(packet(), freed);
    queue.close();
    vi.advanceTimersByTime(1);
    expect(freed).toHaveBeenCalledOnce();
  });
});
