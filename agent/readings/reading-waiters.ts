import type { ClockState, Quality } from '../../contract/index.js';

/** A reading taken for read-now, as it went into the outbox. */
export interface TakenReading {
  sensor: string;
  /** Its seq, when the outbox kept it (not when full under drop-newest, or when the disk refused it). */
  seq?: number;
  ts: number;
  value: number | null;
  unit: string;
  quality: Quality;
  clock: ClockState;
  stored: boolean;
}

export interface ReadingWait {
  /** Resolves with the next reading of the sensor, once committed (or refused by the outbox). */
  readonly reading: Promise<TakenReading>;
  /** Stops waiting (read-now ran out of time); the promise then never settles. */
  cancel(): void;
}

type Resolve = (reading: TakenReading) => void;

/**
 * Who waits for the next reading of which sensor (read-now). The pipeline claims the waiters of a
 * sensor when its next reading comes, keeps that reading whatever the sampling settings say, and
 * hands each waiter the reading once it is committed, with its seq.
 */
export class ReadingWaiters {
  private readonly waiting = new Map<string, Set<Resolve>>();

  wait(sensor: string): ReadingWait {
    let resolve: Resolve = () => undefined;
    const reading = new Promise<TakenReading>((settle) => (resolve = settle));
    const set = this.waiting.get(sensor) ?? new Set<Resolve>();
    set.add(resolve);
    this.waiting.set(sensor, set);
    return {
      reading,
      cancel: () => {
        set.delete(resolve);
        if (set.size === 0 && this.waiting.get(sensor) === set) this.waiting.delete(sensor);
      },
    };
  }

  /** Takes the waiters of `sensor` (none: an empty list): the reading at hand is theirs. */
  claim(sensor: string): Resolve[] {
    const set = this.waiting.get(sensor);
    if (!set) return [];
    this.waiting.delete(sensor);
    return [...set];
  }

  get size(): number {
    let count = 0;
    for (const set of this.waiting.values()) count += set.size;
    return count;
  }
}
