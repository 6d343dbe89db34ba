import { randomBytes } from 'node:crypto';
import type { Reading } from '../../contract/index.js';
import type { StoredReading } from '../store/reading-store.js';

/** Readings stored together: one readings message of one (device, boot), as ingest commits it. */
export interface FeedBatch {
  readonly device: string;
  readonly boot: string;
  readonly receivedAt: number;
  readonly readings: readonly Reading[];
}

/** Live readings after each commit (ingest's `stored` event), a batch or a few at a time. Returns the unsubscribe. */
export type ReadingsSource = (listener: (batches: readonly FeedBatch[]) => void) => () => void;

/** A stored reading and its position in this process's stream (1, 2, 3, ... across every device). */
export interface FeedEntry {
  readonly n: number;
  readonly reading: StoredReading;
}

/**
 * A batch as held: its readings are numbered from `first`; the oldest `skip` of them are dropped
 * already (the count bound cut into it). The feed holds batches, not readings: taking a batch
 * costs the same whatever its size, and a StoredReading is made only for a client that reads it.
 */
interface Segment {
  readonly first: number;
  readonly batch: FeedBatch;
  skip: number;
  /** When the feed took it, by the feed's clock: what the age bound is measured against. */
  readonly at: number;
}

export interface ReadingsFeedLimits {
  /** Readings held for resuming, all devices together; default 50 000. */
  maxReadings?: number;
  /** Readings older than this are dropped; default 10 minutes. */
  maxAgeMs?: number;
  /** The clock; default Date.now. */
  now?: () => number;
  /** This run's token in event ids; default one made of the start time and random bytes. */
  epoch?: string;
}

export interface ReadingsFeedOptions extends ReadingsFeedLimits {
  /** Where a failing subscriber is reported. */
  log: { error: (fields: object, message: string) => void };
}

/** Why a client cannot resume where it left off. */
export type ResetReason = 'restarted' | 'expired';

/**
 * Where a stream with a Last-Event-ID starts: right after its position, or (reset) after the
 * position before the oldest reading held, having missed the readings received up to `since`.
 */
export type ResumePoint = { kind: 'resume'; after: number } | { kind: 'reset'; reason: ResetReason; after: number; since: number };

const ID_PATTERN = /^(.+)-(\d{1,15})$/;

/**
 * The readings stream of this process, numbered, with the newest ones kept (bounded by count
 * and age) so that a client that reconnects with its Last-Event-ID misses nothing. Event ids
 * are `<epoch>-<n>`: positions start again at 1 when the process does, and the epoch tells
 * an id of an earlier run from one of this run.
 */
export class ReadingsFeed {
  readonly epoch: string;
  private readonly maxReadings: number;
  /** Held batches, oldest first, from `head` on (the array is compacted now and then). */
  private segments: Segment[] = [];
  private head = 0;
  private count = 0;
  private newest = 0;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly listeners = new Set<(entries: readonly FeedEntry[]) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    source: ReadingsSource,
    private readonly options: ReadingsFeedOptions,
  ) {
    const maxReadings = options.maxReadings ?? 50_000;
    if (!Number.isInteger(maxReadings) || maxReadings < 1)
      throw new RangeError(`maxReadings must be a positive integer, not ${maxReadings}`);
    this.maxReadings = maxReadings;
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    this.epoch = options.epoch ?? `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
    this.unsubscribe = source((batches) => this.take(batches));
  }

  /** The position of the newest reading; 0 before the first. */
  get position(): number {
    return this.newest;
  }

  /** Readings held now. */
  get size(): number {
    this.evictExpired();
    return this.count;
  }

  idOf(n: number): string {
    return `${this.epoch}-${n}`;
  }

  /** Where a client that last received `lastEventId` picks up. */
  resumeFrom(lastEventId: string): ResumePoint {
    const match = ID_PATTERN.exec(lastEventId);
    const n = Number(match?.[2]);
    if (match?.[1] === this.epoch && this.holdsAfter(n)) return { kind: 'resume', after: n };
    // A position past the newest cannot come from this run either.
    const reason: ResetReason = match?.[1] === this.epoch && n < this.firstHeld() ? 'expired' : 'restarted';
    const oldest = this.count > 0 ? this.segments[this.head] : undefined;
    return { kind: 'reset', reason, after: this.firstHeld() - 1, since: oldest?.batch.receivedAt ?? this.now() };
  }

  /**
   * Up to `limit` readings after position `n`, oldest first; undefined when readings after `n`
   * are no longer held (or `n` is past the newest).
   */
  after(n: number, limit: number): FeedEntry[] | undefined {
    if (!this.holdsAfter(n)) return undefined;
    const entries: FeedEntry[] = [];
    for (let s = this.segmentHolding(n + 1); s < this.segments.length && entries.length < limit; s++) {
      const segment = this.segments[s] as Segment;
      const from = Math.max(segment.skip, n + 1 - segment.first);
      const to = Math.min(segment.batch.readings.length, from + limit - entries.length);
      for (let i = from; i < to; i++) entries.push(entryOf(segment, i));
    }
    return entries;
  }

  /** Called with each batch as it is stored, already numbered and held. Returns the unsubscribe. */
  subscribe(listener: (entries: readonly FeedEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Stops taking readings (app shutdown). */
  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private take(batches: readonly FeedBatch[]): void {
    const at = this.now();
    const taken: Segment[] = [];
    for (const batch of batches) {
      if (batch.readings.length === 0) continue;
      const segment: Segment = { first: this.newest + 1, batch, skip: 0, at };
      this.segments.push(segment);
      taken.push(segment);
      this.newest += batch.readings.length;
      this.count += batch.readings.length;
    }
    this.dropOldest(this.count - this.maxReadings);
    this.evictExpired();
    // StoredReadings are made only for someone listening (a client on /stream), never for the window.
    if (taken.length === 0 || this.listeners.size === 0) return;
    const entries: FeedEntry[] = [];
    for (const segment of taken) for (let i = 0; i < segment.batch.readings.length; i++) entries.push(entryOf(segment, i));
    for (const listener of [...this.listeners]) {
      // One failing stream must not keep the others (or ingest, which emits this) from their readings.
      try {
        listener(entries);
      } catch (error) {
        this.options.log.error({ err: error, component: 'http:readings-feed' }, 'a readings stream failed on a batch');
      }
    }
  }

  /** Whether every reading after `n` is still held (none may be, when `n` is the newest). */
  private holdsAfter(n: number): boolean {
    this.evictExpired();
    return Number.isInteger(n) && n >= this.firstHeld() - 1 && n <= this.newest;
  }

  /** The position of the oldest reading held, or the next one when none is. */
  private firstHeld(): number {
    return this.newest - this.count + 1;
  }

  /** Index in `segments` of the held segment that holds position `n` (or the first after it). */
  private segmentHolding(n: number): number {
    let lo = this.head;
    let hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const segment = this.segments[mid] as Segment;
      if (segment.first + segment.batch.readings.length <= n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private evictExpired(): void {
    const oldestKept = this.now() - this.maxAgeMs;
    for (let oldest = this.segments[this.head]; oldest !== undefined && oldest.at < oldestKept; oldest = this.segments[this.head]) {
      this.dropOldest(oldest.batch.readings.length - oldest.skip);
    }
  }

  /** Drops the oldest `readings` readings held (none if <= 0). */
  private dropOldest(readings: number): void {
    for (let left = readings; left > 0;) {
      const oldest = this.segments[this.head];
      if (!oldest) break;
      const held = oldest.batch.readings.length - oldest.skip;
      const dropped = Math.min(held, left);
      oldest.skip += dropped;
      this.count -= dropped;
      left -= dropped;
      if (dropped === held) this.head++;
    }
    // Compact now and then, so dropped segments do not pile up at the front of the array.
    if (this.head > 1024 && this.head * 2 > this.segments.length) {
      this.segments = this.segments.slice(this.head);
      this.head = 0;
    }
  }
}

/** The reading at index `i` of a held segment, as a stream sends it. */
function entryOf(segment: Segment, i: number): FeedEntry {
  const { device, boot, receivedAt, readings } = segment.batch;
  return { n: segment.first + i, reading: { ...(readings[i] as Reading), device, boot, receivedAt } };
}
