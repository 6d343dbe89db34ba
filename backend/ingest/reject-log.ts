import type { Logger } from 'pino';
import type { RejectCause } from '../../contract/index.js';
import { OncePerKey } from '../../contract/log-once.js';
import type { BackendMetrics } from '../metrics.js';

export type IngestRejectCause = RejectCause | 'unknown_topic';

/** Counts refused payloads by cause, and logs each (cause, topic) at warn once, then at debug. */
export class RejectLog {
  /**
   * At most 1000 distinct (cause, topic) pairs are remembered: junk topics must not grow memory,
   * and past that every new pair is logged at debug, so a flood of junk topics cannot keep the log loud.
   */
  private readonly logged = new OncePerKey({ maxStringKeys: 1000, whenFull: 'quiet' });

  constructor(
    private readonly metrics: BackendMetrics,
    private readonly log: Logger,
  ) {}

  reject(cause: IngestRejectCause, topic: string, detail: string): void {
    this.metrics.payloadsRejected.inc({ cause });
    this.log[this.logged.level(`${cause}\u0000${topic}`)]({ cause, topic, detail: detail.slice(0, 500) }, 'payload refused');
  }
}
