// One write system call per turn of the event loop, not one per delivered message. aedes writes
// each delivery in its own setImmediate callback (lib/client.js deliver0/deliverQoS), and
// mqtt-packet corks the socket only until the next tick, so with noDelay every message became
// its own writev(2): the largest single cost of relaying (issue 14, profile of `npm run bench
// broker`: 23 % of the broker's busy time in writev). The socket is corked for each delivery and
// uncorked in a setImmediate queued after aedes' own (immediates run in the order queued), so
// every delivery of a turn reaches the kernel in one writev once that turn's writes are done.
import type { Writable } from 'node:stream';
import type { Deliver } from './subscriber-queue.js';

export function coalesceWrites(stream: Writable, deliver: Deliver): Deliver {
  // Corks whose write is queued before the scheduled flush, and those queued after it (deliveries
  // made once the flush was scheduled): these wait for one more flush. Two immediates a turn at
  // most, rather than one per delivery.
  let beforeFlush = 0;
  let afterFlush = 0;
  let scheduled = false;
  const flush = () => {
    for (; beforeFlush > 0; beforeFlush -= 1) stream.uncork();
    beforeFlush = afterFlush;
    afterFlush = 0;
    scheduled = beforeFlush > 0;
    if (scheduled) setImmediate(flush);
  };
  return (packet, done) => {
    stream.cork();
    deliver(packet, done); // queues aedes' write
    if (scheduled) {
      afterFlush += 1;
    } else {
      beforeFlush += 1;
      scheduled = true;
      setImmediate(flush);
    }
  };
}
