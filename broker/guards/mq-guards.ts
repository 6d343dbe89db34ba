// Two workarounds inside mqemitter (7.1, aedes' message router; mqemitter-redis builds on it),
// both for the moment its concurrency slots are all taken and messages queue up: a subscriber not
// reading its socket, or publishers that pipeline thousands of packets (aedes handles every
// packet of a socket read at once, so one 64 KiB read of small PUBLISHes is thousands of emits).
//
// 1. "RangeError: Maximum call stack size exceeded", which crashes the process. Once slots free,
//    each queued message with no listener left (the frozen subscriber was killed) releases its
//    slot synchronously, which starts the next one inside the same call: released() -> _do() ->
//    parallel() -> released() ..., one level per queued message. test/broker-flood.test.ts
//    reproduces it against bare aedes 1.2.0. Upstream: https://github.com/mcollina/mqemitter/pull/204
//    (open) and moscajs/aedes#193. The guard counts how deeply _do() is nested and, past a depth no
//    healthy run reaches, starts the message on the next turn of the event loop instead, with its
//    slot kept reserved so that later messages still queue behind it.
// 2. The queue is an array emptied with shift(), which V8 makes O(length) on large arrays: with
//    100 000 messages queued the broker relays a few thousand per second, a denial of service in
//    itself. The guard swaps in a queue whose shift() is O(1).

interface MqEmitterInternals {
  current: number;
  _messageQueue: unknown[];
  _messageCallbacks: unknown[];
  _do(message: unknown, callback: unknown): unknown;
}

const MAX_DEPTH = 64;

/** The part of the Array API mqemitter uses on its queues (push, shift, length), all O(1). */
export class FifoQueue<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): number {
    this.items.push(item);
    return this.length;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    // Drop the consumed front now and then: amortised O(1), memory bounded by what is queued.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export function guardMqEmitter(mq: unknown): void {
  const emitter = mq as MqEmitterInternals;
  if (typeof emitter._do !== 'function' || typeof emitter.current !== 'number' || !Array.isArray(emitter._messageQueue)) {
    throw new Error('mq-guards: the emitter is not an mqemitter 7 (no _do/current/_messageQueue): check the mqemitter version');
  }
  if (emitter._messageQueue.length > 0) throw new Error('mq-guards: install before any message is emitted');
  emitter._messageQueue = new FifoQueue<unknown>() as unknown as unknown[];
  emitter._messageCallbacks = new FifoQueue<unknown>() as unknown as unknown[];

  const original = emitter._do.bind(emitter);
  let depth = 0;
  emitter._do = (message, callback) => {
    if (depth >= MAX_DEPTH) {
      emitter.current += 1;
      setImmediate(() => {
        emitter.current -= 1;
        original(message, callback);
      });
      return emitter;
    }
    depth += 1;
    try {
      return original(message, callback);
    } finally {
      depth -= 1;
    }
  };
}
