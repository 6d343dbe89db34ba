import { afterEach, describe, expect, it } from 'vitest';
import { DEVICE, EngineHarness, reading, rules } from '../../../test/helpers/alert-engine-fixtures.js';

// A broker restart: the broker sends every agent's will as it goes down, the backend's own
// connection drops with the agents', and all come back within seconds. The time the backend is
// cut off from the broker is nobody's silence and no agent's time offline; the statuses are
// taken in the order the device registry takes them.

const gone = rules({ id: 'gone', kind: 'offline', match: { device: 'furnace-*' }, for: 30_000 });

let h: EngineHarness;
afterEach(() => h.close());

/** An agent's status: `ts` is its own time (for a will, when its connection was attempted). */
function status(state: 'online' | 'offline', receivedAt: number, ts: number, boot = 'b1'): void {
  h.engine.status(DEVICE, state, receivedAt, { ts, boot });
}

describe('AlertEngine: cut off from the broker', () => {
  it('fires nothing for the wills of a broker restart when the agents are back within `for`', () => {
    h = new EngineHarness(gone);
    status('online', 1050, 1050);
    // The broker goes down: it sends the will, then drops the backend's connection too.
    status('offline', 100_000, 1000);
    h.engine.brokerDisconnected(100_050);
    // Ten minutes before the broker is back: without the cut, 130 000 would fire.
    for (let t = 110_000; t < 700_000; t += 10_000) h.engine.tick(t);
    expect(h.path()).toEqual(['gone:inactive→pending']);
    h.engine.brokerConnected(700_000);
    h.engine.tick(701_000);
    // The agent's new connection: its birth, a second after the backend's.
    status('online', 701_500, 701_400);
    h.engine.tick(800_000);
    expect(h.path()).toEqual(['gone:inactive→pending', 'gone:pending→inactive']);
  });

  it('fires `for` after a will that stays, leaving out the time cut off', () => {
    h = new EngineHarness(gone);
    status('online', 1050, 1050);
    status('offline', 100_000, 1000); // the agent died: 10 s of its 30 s pass before the cut
    h.engine.tick(110_000);
    h.engine.brokerDisconnected(110_000);
    h.engine.tick(200_000);
    h.engine.brokerConnected(300_000);
    // The will again, retained, as the backend subscribes anew: no news, the wait goes on.
    status('offline', 300_010, 1000);
    h.engine.tick(319_999);
    expect(h.path()).toEqual(['gone:inactive→pending']);
    h.engine.tick(320_000);
    expect(h.path()).toEqual(['gone:inactive→pending', 'gone:pending→firing']);
  });

  it('does not count the time cut off as silence, but counts the silence before it', () => {
    h = new EngineHarness(rules({ id: 'quiet', kind: 'stale', after: 60_000 }));
    for (let ts = 0; ts <= 50_000; ts += 1000) h.feed(reading(ts, 20));
    h.engine.brokerDisconnected(60_000); // 10 s of silence so far
    h.engine.tick(100_000);
    h.engine.tick(200_000);
    expect(h.path()).toEqual([]);
    h.engine.brokerConnected(300_000);
    h.engine.tick(349_999);
    expect(h.path()).toEqual([]);
    h.engine.tick(350_000);
    expect(h.path()).toEqual(['quiet/tc1:inactive→firing']);
  });

  it('goes on judging what it last heard: a threshold and a sensor fault fire on time during the cut', () => {
    h = new EngineHarness([
      ...rules({ id: 'hot', kind: 'threshold', above: 900, for: 10_000 }),
      ...rules({ id: 'sick', kind: 'sensor', for: 10_000 }),
    ]);
    h.feed(reading(0, 950), 0);
    h.engine.sensors(DEVICE, { v: 1, device: DEVICE, ts: 0, sensors: [{ sensor: 'tc1', state: 'faulty', since: 0 }] }, 0);
    h.engine.brokerDisconnected(1000);
    h.engine.tick(10_000);
    expect(h.path().filter((step) => step.endsWith('→firing'))).toEqual(['hot/tc1:pending→firing', 'sick/tc1:pending→firing']);
  });

  it('ignores a second disconnection report and a connection without a cut', () => {
    h = new EngineHarness(gone);
    h.engine.brokerConnected(0);
    status('offline', 1000, 900);
    h.engine.brokerDisconnected(2000);
    h.engine.brokerDisconnected(50_000);
    h.engine.brokerConnected(62_000);
    // Cut off from 2000: 1 s of the 30 s passed before, 29 s are needed after.
    h.engine.tick(90_999);
    expect(h.path()).toEqual(['gone:inactive→pending']);
    h.engine.tick(91_000);
    expect(h.path()).toEqual(['gone:inactive→pending', 'gone:pending→firing']);
  });
});

describe('AlertEngine: statuses in the order of the device registry', () => {
  const now = rules({ id: 'gone', kind: 'offline', match: { device: 'furnace-*' } });

  it('fires on the will of the current connection, not on a stale will or the status of an old boot resent late, also after a restart', () => {
    h = new EngineHarness(now);
    status('online', 1050, 1050);
    status('offline', 2000, 1000); // the will: older than the birth, and still the news
    status('online', 3041, 3040);
    expect(h.path()).toEqual(['gone:inactive→firing', 'gone:firing→resolved']);
    status('offline', 3100, 1000); // connection 1's will again, after connection 2's birth
    h.restart();
    status('offline', 3200, 1000);
    status('offline', 3300, 500, 'b0'); // an older boot's
    expect(h.path()).toEqual(['gone:inactive→firing', 'gone:firing→resolved']);
    status('offline', 9000, 3000);
    expect(h.path()).toEqual(['gone:inactive→firing', 'gone:firing→resolved', 'gone:resolved→firing']);
    // A cleared status leaves nothing to order by: whatever comes next is the news.
    h.engine.statusCleared(DEVICE, 10_000);
    status('online', 11_000, 500, 'b0');
    expect(h.path().slice(3)).toEqual(['gone:firing→resolved']);
  });
});
