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
});
