// One write system call per turn of the event loop, not one per delivered message. aedes writes
// each delivery in its own setImmediate callback (lib/client.js deliver0/deliverQoS), and
// mqtt-packet corks the socket only until the next tick, so with noDelay every message became
// its own writev(2): the largest single cost of relaying (issue 14, profile of `npm run bench
// broker`: 23 % of the broker's busy time in writev). Corking the socket for each delivery and
// uncorking in a setImmediate queued after aedes' own (callbacks run in order) lets every
// delivery of the turn reach the kernel in one writev, as soon as the turn's writes are done.
import type { Writable } from 'node:stream';
import type { Deliver } from './subscriber-queue.js';

export function coalesceWrites(stream: Writable, deliver: Deliver): Deliver {
  const uncork = () => stream.uncork();
  return (packet, done) => {
    stream.cork();
    deliver(packet, done);
    setImmediate(uncork);
  };
}
