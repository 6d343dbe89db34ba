import type { Logger } from 'pino';
import type { BackendMetrics } from './metrics.js';
import type { ReadingStore, RetentionResult } from './store/reading-store.js';

/** Runs retention at start-up and then every `intervalMs`, one run at a time; admins can run it now. */
export class RetentionTimer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionResult> | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: Pick<ReadingStore, 'applyRetention'>,
    private readonly intervalMs: number,
    private readonly metrics: BackendMetrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    const tick = () => {
      this.runNow().catch((error: unknown) => this.log.error({ err: error }, 'retention failed; it runs again later'));
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** No more runs; a run going on stops at its next chunk. */
  stop(): void {
    clearTimeout(this.timer);
    this.stopping.abort();
  }

  /** The current run, or a new one; concurrent callers share it. */
  runNow(): Promise<RetentionResult> {
    this.running ??= this.store
      .applyRetention(Date.now(), { signal: this.stopping.signal })
      .then((result) => {
        this.metrics.retentionDeleted.inc({ table: 'readings' }, result.rawReadings);
        this.metrics.retentionDeleted.inc({ table: 'rollup_1m' }, result.minuteRollups);
        this.metrics.retentionDeleted.inc({ table: 'rollup_1h' }, result.hourRollups);
        if (result.rawReadings + result.minuteRollups + result.hourRollups > 0) this.log.info(result, 'retention deleted old rows');
        return result;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves once no run is going on (so the store can close under it). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }
}
