// The seq ranges of one (device, boot) that a write can touch, held in memory for one
// transaction: the writer asks it which readings are already stored (duplicates) and records the
// runs it stores, then writes back only the ranges that changed (sqlite-seq-ranges.ts). So dedup
// and gap bookkeeping cost a few statements per (device, boot) and transaction, not per reading.

/** A contiguous run of stored seq, as the seq_ranges table holds it. */
export interface SeqRange {
  first_seq: number;
  last_seq: number;
  first_ts: number;
  last_ts: number;
}

/** One run of consecutive seq just stored, with the source times of its ends. */
export interface SeqRun {
  first: number;
  last: number;
  firstTs: number;
  lastTs: number;
}

export class SeqRangeSet {
  /** Ascending by first_seq, disjoint. */
  readonly ranges: SeqRange[];

  /**
   * `loaded`: every range of the (device, boot) that starts in [from, to + 1] plus the last one that
   * starts before `from`, for writes of seq within [from, to]; `moreAfter`: whether a range starts
   * after to + 1. Together they answer exactly what the table would.
   */
  constructor(
    readonly loaded: readonly SeqRange[],
    private readonly moreAfter: boolean,
  ) {
    this.ranges = loaded.map((range) => ({ ...range }));
  }

  /** Whether `seq` is stored (in the table, or earlier in this transaction). */
  covers(seq: number): boolean {
    const i = this.firstStartingAtOrAfter(seq + 1) - 1;
    const range = this.ranges[i];
    return range !== undefined && range.last_seq >= seq;
  }

  /**
   * Records a run of seq not stored before, merging it with its neighbours. Returns how the number
   * of open gaps of this (device, boot) changed: +1 a new hole (or one split in two), 0 a hole
   * shrank or the series grew, -1 a hole closed.
   */
  add(run: SeqRun): number {
    let { first, last, firstTs, lastTs } = run;
    let merged = 0;
    const at = this.firstStartingAtOrAfter(run.first);
    let from = at;
    const left = this.ranges[at - 1];
    if (left && left.last_seq >= first - 1) {
      first = left.first_seq;
      firstTs = left.first_ts;
      if (left.last_seq > last) ({ last_seq: last, last_ts: lastTs } = left);
      from = at - 1;
      merged++;
    }
    // Ranges starting inside the run or right after it.
    const bound = last + 1;
    let to = at;
    for (let right = this.ranges[to]; right !== undefined && right.first_seq <= bound; right = this.ranges[++to]) {
      if (right.last_seq > last) ({ last_seq: last, last_ts: lastTs } = right);
      merged++;
    }
    const hadNeighbours = left !== undefined || merged > 0 || to < this.ranges.length || this.moreAfter;
    this.ranges.splice(from, to - from, { first_seq: first, last_seq: last, first_ts: firstTs, last_ts: lastTs });
    return hadNeighbours ? 1 - merged : 0;
  }

  /** What to write back: the loaded ranges that are gone or changed, and the ranges that are new or changed. */
  changes(): { removed: SeqRange[]; added: SeqRange[] } {
    const same = (a: SeqRange, b: SeqRange) =>
      a.first_seq === b.first_seq && a.last_seq === b.last_seq && a.first_ts === b.first_ts && a.last_ts === b.last_ts;
    const removed = this.loaded.filter((old) => !this.ranges.some((range) => same(old, range)));
    const added = this.ranges.filter((range) => !this.loaded.some((old) => same(old, range)));
    return { removed, added };
  }

  /** Index of the first range with first_seq >= seq (ranges.length if none). */
  private firstStartingAtOrAfter(seq: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ranges[mid]?.first_seq ?? Number.POSITIVE_INFINITY) < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Consecutive runs of readings sorted by seq (no seq twice), with the source times of their ends. */
export function runsOf(sorted: ReadonlyArray<{ seq: number; ts: number }>): SeqRun[] {
  const runs: SeqRun[] = [];
  let run: SeqRun | undefined;
  for (const { seq, ts } of sorted) {
    if (run && seq === run.last + 1) {
      run.last = seq;
      run.lastTs = ts;
    } else runs.push((run = { first: seq, last: seq, firstTs: ts, lastTs: ts }));
  }
  return runs;
}
