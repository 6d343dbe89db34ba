// The data of one chart: buckets of `every` ms, each with mean, min and max, as uPlot takes
// them (one array per series, x first). History fills it from the API (agg=band); live
// readings fold into the newest bucket or open the next one, so a 30-day view updated every
// second keeps its ~one point per pixel. Memory is bounded twice: buckets older than the
// window are dropped, and never more than `maxBuckets` are kept. Free of DOM types, so Node
// tests can use it.

export interface Bucket {
  t: number;
  value: number;
  min?: number | undefined;
  max?: number | undefined;
  count: number;
}

export type ChartData = [x: number[], mean: Array<number | null>, min: Array<number | null>, max: Array<number | null>];

export class SeriesWindow {
  readonly x: number[] = [];
  readonly mean: Array<number | null> = [];
  readonly min: Array<number | null> = [];
  readonly max: Array<number | null> = [];
  private counts: number[] = [];
  /** Source time of the newest reading held (or the history's end). */
  newestTs = -Infinity;
  /** Live readings before this are history's: the end of the range history answered. */
  private historyEnd = -Infinity;

  constructor(
    /** Bucket width, ms, as the history's answer chose it (one second at the finest). */
    readonly every: number,
    readonly maxBuckets: number,
  ) {}

  get length(): number {
    return this.x.length;
  }

  /** Readings held, history's and live ones: a repeat or a gap in the stream would show here. */
  get readings(): number {
    return this.counts.reduce((sum, n) => sum + n, 0);
  }

  get data(): ChartData {
    return [this.x, this.mean, this.min, this.max];
  }

  /** History, oldest first, of readings before `upTo` (the query's end): live readings from there on are added. */
  load(buckets: readonly Bucket[], upTo: number): void {
    for (const bucket of buckets) this.push(bucket.t, bucket.value, bucket.min ?? bucket.value, bucket.max ?? bucket.value, bucket.count);
    this.historyEnd = Math.max(this.historyEnd, upTo);
    this.newestTs = Math.max(this.newestTs, upTo - 1);
    this.cap();
  }

  /**
   * A live reading. One before the history's end is skipped (history counted it), and so is one
   * older than the newest bucket (a late replay: history has it on the next load); the stream
   * itself never repeats a reading.
   */
  add(ts: number, value: number): boolean {
    if (!Number.isFinite(value) || ts < this.historyEnd) return false;
    // The server's bucket grid (multiples of `every` since the epoch), so live and history buckets line up.
    const t = ts - (ts % this.every);
    const last = this.x.length - 1;
    const lastT = this.x[last];
    if (lastT !== undefined && t < lastT) return false;
    this.newestTs = Math.max(this.newestTs, ts);
    if (lastT === t) {
      const n = this.counts[last] ?? 1;
      this.mean[last] = ((this.mean[last] ?? value) * n + value) / (n + 1);
      this.min[last] = Math.min(this.min[last] ?? value, value);
      this.max[last] = Math.max(this.max[last] ?? value, value);
      this.counts[last] = n + 1;
    } else {
      this.push(t, value, value, value, 1);
      this.cap();
    }
    return true;
  }

  /** Drops the buckets that start before `t`. */
  dropBefore(t: number): void {
    let n = 0;
    while (n < this.x.length && (this.x[n] ?? 0) < t) n++;
    this.shift(n);
  }

  private push(t: number, value: number, min: number, max: number, count: number): void {
    this.x.push(t);
    this.mean.push(value);
    this.min.push(min);
    this.max.push(max);
    this.counts.push(count);
  }

  private cap(): void {
    if (this.x.length > this.maxBuckets) this.shift(this.x.length - this.maxBuckets);
  }

  private shift(n: number): void {
    if (n <= 0) return;
    this.x.splice(0, n);
    this.mean.splice(0, n);
    this.min.splice(0, n);
    this.max.splice(0, n);
    this.counts.splice(0, n);
  }
}
