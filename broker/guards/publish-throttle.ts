// Per-client publish rate: a token bucket. A PUBLISH over the rate is not dropped (that would
// lose a device's QoS 1 readings behind a PUBACK): it waits for a token. aedes reads the next
// chunk of a client's socket only when the packets of the current one are handled, so the
// wait pushes back through TCP and slows the client down.

export class PublishThrottle {
  private tokens: number;
  private last: number;
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** PUBLISH packets waiting for a token. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `go` at once if a token is free (returns true), else once one is, in arrival order (returns false). */
  take(go: () => void): boolean {
    if (this.ratePerSecond <= 0) {
      go();
      return true;
    }
    this.refill();
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      go();
      return true;
    }
    this.waiting.push(go);
    this.schedule();
    return false;
  }

  /** Forgets the waiting packets: their client is gone, and an unacknowledged QoS 1/2 one will be sent again. */
  close(): void {
    this.closed = true;
    this.waiting.length = 0;
    clearTimeout(this.timer);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.release();
    }, waitMs);
  }

  private release(): void {
    this.refill();
    while (this.waiting.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.waiting.shift()?.();
    }
    if (this.waiting.length > 0) this.schedule();
  }
}
