// One subscriber must not stall delivery to the others. aedes hands each message to every
// matching subscriber and frees the message's slot (one of `concurrency`, 100) only when all of
// them have written it; a subscriber whose socket is full holds its slots until it drains or
// `drainTimeout` kills it, and meanwhile every other subscriber waits (aedes docs, "Why use
// drainTimeout?"). Setting drainTimeout short would kill a subscriber at its first hiccup.
//
// So each client's deliveries pass through this queue. While the client keeps up, nothing
// changes: the slot is freed when the write completes, which also paces publishers to what
// subscribers can take. Once a delivery has been blocked `stallMs`, the client is "decoupled":
// its held slots are freed and further messages queue for it alone (still written in order), up
// to `maxMessages` / `maxBytes`, past which it is disconnected. It is coupled again once it has
// caught up. A persistent session loses nothing by the disconnection: unacknowledged QoS 1/2
// messages stay in its session and are sent again when it reconnects.
//
// That is right for a stranger and wrong for the backend, which must take every reading: cut off,
// it gets its whole session again (issue 14: 15,000-41,000 redeliveries per bench run). A "paced"
// client (limits.pacedRoles) is never decoupled: its deliveries keep holding their slots, so
// once its socket is full the emitter's slots fill, publishers' packets stay unfinished, aedes
// reads no more of their sockets, and TCP slows them to its pace. Only a paced client that
// stops reading altogether is cut off, by aedes' drainTimeout.
import type { AedesPublishPacket } from 'aedes';

export type Deliver = (packet: AedesPublishPacket, done: () => void) => void;

export interface SubscriberQueueLimits {
  /** Asked at the first delivery (the client has authenticated by then): slow publishers down instead of decoupling? */
  paced?: () => boolean;
  stallMs: number;
  maxMessages: number;
  maxBytes: number;
}

export interface SubscriberQueueEvents {
  /** A delivery was blocked `stallMs`: the client stops pacing the others. */
  onStall(queued: QueuedAmount): void;
  /** A paced client's delivery was blocked `stallMs`: publishers now wait for it (once per episode). */
  onPacing?(queued: QueuedAmount): void;
  /** The queue overflowed (called once); expected to disconnect the client. */
  onOverflow(queued: QueuedAmount): void;
}

export interface QueuedAmount {
  messages: number;
  bytes: number;
}

interface Held {
  readonly done: () => void;
  readonly since: number;
  released: boolean;
}

export class SubscriberQueue {
  private pending = 0;
  private bytes = 0;
  /** Deliveries still holding their message's slot, oldest first (a Set keeps insertion order). */
  private readonly held = new Set<Held>();
  private decoupled = false;
  private overflowed = false;
  private paced: boolean | undefined;
  /** A paced client's stall was reported; reset once nothing is held. */
  private pacing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: SubscriberQueueLimits,
    private readonly events: SubscriberQueueEvents,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Messages written to the client's socket but not yet flushed, or waiting to be written. */
  get queuedMessages(): number {
    return this.pending;
  }

  wrap(deliver: Deliver): Deliver {
    return (packet, done) => this.deliver(deliver, packet, done);
  }

  /** The client is gone: free whatever it still holds. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.releaseHeld();
  }

  private deliver(deliver: Deliver, packet: AedesPublishPacket, done: () => void): void {
    if (this.overflowed) {
      setImmediate(done); // being disconnected: not worth writing
      return;
    }
    const size = packet.payload.length;
    this.paced ??= this.limits.paced?.() ?? false;
    // A paced client holds at most the emitter's slots (aedes' concurrency): not bounded here.
    if (!this.paced && (this.pending >= this.limits.maxMessages || this.bytes + size > this.limits.maxBytes)) {
      this.overflowed = true;
      this.close();
      this.events.onOverflow({ messages: this.pending, bytes: this.bytes });
      setImmediate(done);
      return;
    }
    this.pending += 1;
    this.bytes += size;
    const held: Held | undefined = this.decoupled ? undefined : { done, since: this.now(), released: false };
    if (held) {
      this.held.add(held);
      this.arm();
    }
    deliver(packet, () => {
      this.pending -= 1;
      this.bytes -= size;
      if (held && !held.released) {
        held.released = true;
        this.held.delete(held);
        if (this.held.size === 0) this.pacing = false;
        done();
      }
      if (this.pending === 0) this.decoupled = false; // caught up
    });
    // Decoupled: free the slot on the next turn (not synchronously, which would nest the next
    // message's delivery inside this one).
    if (!held) setImmediate(done);
  }

  /** Checks again when the oldest held delivery reaches `stallMs`. */
  private arm(): void {
    if (this.timer !== undefined || this.pacing) return;
    const oldest = this.held.values().next().value;
    if (!oldest) return;
    const wait = Math.max(0, oldest.since + this.limits.stallMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.check();
    }, wait);
  }

  private check(): void {
    const oldest = this.held.values().next().value;
    if (!oldest) return;
    if (this.now() - oldest.since >= this.limits.stallMs) {
      if (this.paced) {
        this.pacing = true;
        this.events.onPacing?.({ messages: this.pending, bytes: this.bytes });
        return;
      }
      this.decoupled = true;
      this.releaseHeld();
      this.events.onStall({ messages: this.pending, bytes: this.bytes });
    } else {
      this.arm();
    }
  }

  private releaseHeld(): void {
    const held = [...this.held];
    this.held.clear();
    for (const entry of held) {
      if (entry.released) continue;
      entry.released = true;
      setImmediate(entry.done);
    }
  }
}
