import { describe, expect, it } from 'vitest';
import { AckQueue } from './ack-queue.js';

describe('AckQueue', () => {
  it('sends PUBACKs in arrival order, each once its message is done [MQTT-4.6.0-2]', () => {
    const sent: number[] = [];
    const acks = new AckQueue((id) => sent.push(id));
    const [one, two, three] = [acks.enter(1), acks.enter(2), acks.enter(3)];
    three();
    expect(sent).toEqual([]); // done early, waits for 1 and 2
    one();
    expect(sent).toEqual([1]);
    two();
    expect(sent).toEqual([1, 2, 3]);
    expect(acks.waiting).toBe(0);
    two();
    expect(sent).toEqual([1, 2, 3]); // once only
  });

  it('forgets what was owed on a connection that ended: the broker resends those messages', () => {
    const sent: number[] = [];
    const acks = new AckQueue((id) => sent.push(id));
    const old = acks.enter(7);
    acks.reset();
    const fresh = acks.enter(7);
    old();
    expect(sent).toEqual([]);
    fresh();
    expect(sent).toEqual([7]);
  });

  it('keeps the order across thousands waiting, sent in parts and in one go', () => {
    const sent: number[] = [];
    const acks = new AckQueue((id) => sent.push(id));
    const done = Array.from({ length: 5000 }, (_, i) => acks.enter(i + 1));
    // The first 3000 done in order (the line moves past them), then the rest backwards (all wait for the first of them).
    for (const mark of done.slice(0, 3000)) mark();
    expect([sent.length, acks.waiting]).toEqual([3000, 2000]);
    const late = acks.enter(5001);
    for (const mark of done.slice(3000).reverse()) mark();
    expect(acks.waiting).toBe(1);
    late();
    expect(sent).toEqual(Array.from({ length: 5001 }, (_, i) => i + 1));
    expect(acks.waiting).toBe(0);
  });
});
