import { randomBytes } from 'node:crypto';
import type { StoredReading } from '../store/reading-store.js';

/** Live readings after each commit (ingest's `stored` event). Returns the unsubscribe. */
export type ReadingsSource = (listener: (device: string, readings: readonly StoredReading[]) => void) => () => void;

/** A stored reading and its position in this process's stream (1, 2, 3, ... across every device). */
export interface FeedEntry {
  readonly n: number;
  readonly reading: StoredReading;
}

interface Slot extends FeedEntry {
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
  private readonly slots: Array<Slot | undefined>;
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
    if (!Number.isInteger(maxReadings) || maxReadings < 1) throw new RangeError(`maxReadings must be a positive integer, not ${maxReadings}`);
    this.slots = new Array<Slot | undefined>(maxReadings);
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    this.epoch = options.epoch ?? `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
    this.unsubscribe = source((_device, readings) => this.take(readings));
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
    const oldest = this.count > 0 ? this.slot(0) : undefined;
    return { kind: 'reset', reason, after: this.firstHeld() - 1, since: oldest?.reading.receivedAt ?? this.now() };
  }

  /**
   * Up to `limit` readings after position `n`, oldest first; undefined when readings after `n`
   * are no longer held (or `n` is past the newest).
   */
  after(n: number, limit: number): FeedEntry[] | undefined {
    if (!this.holdsAfter(n)) return undefined;
    const first = n + 1 - this.firstHeld();
    const entries: FeedEntry[] = [];
    for (let i = first; i < this.count && entries.length < limit; i++) {
      const slot = this.slot(i);
      if (slot) entries.push(slot);
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

  private take(readings: readonly StoredReading[]): void {
    const at = this.now();
    const entries: Slot[] = [];
    for (const reading of readings) {
      const slot: Slot = { n: ++this.newest, reading, at };
      if (this.count === this.slots.length) this.dropOldest();
      this.slots[(this.head + this.count) % this.slots.length] = slot;
      this.count++;
      entries.push(slot);
    }
    this.evictExpired();
    if (entries.length === 0) return;
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

  private slot(i: number): Slot | undefined {
    return this.slots[(this.head + i) % this.slots.length];
  }

  private evictExpired(): void {
    const oldestKept = this.now() - this.maxAgeMs;
    for (let oldest = this.slot(0); this.count > 0 && oldest !== undefined && oldest.at < oldestKept; oldest = this.slot(0)) this.dropOldest();
  }

  private dropOldest(): void {
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
  }
}
