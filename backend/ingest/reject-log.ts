import type { Logger } from 'pino';
import type { RejectCause } from '../../contract/index.js';
import type { BackendMetrics } from '../metrics.js';

/** How many distinct (cause, topic) pairs are remembered for "log once"; junk topics must not grow memory. */
const MAX_LOGGED_CAUSES = 1000;

export type IngestRejectCause = RejectCause | 'unknown_topic';

/** Counts refused payloads by cause, and logs each (cause, topic) at warn once, then at debug. */
export class RejectLog {
  private readonly logged = new Set<string>();

  constructor(
    private readonly metrics: BackendMetrics,
    private readonly log: Logger,
  ) {}

  reject(cause: IngestRejectCause, topic: string, detail: string): void {
    this.metrics.payloadsRejected.inc({ cause });
    const key = `${cause}\u0000${topic}`;
    const first = !this.logged.has(key) && this.logged.size < MAX_LOGGED_CAUSES;
    if (first) this.logged.add(key);
    this.log[first ? 'warn' : 'debug']({ cause, topic, detail: detail.slice(0, 500) }, 'payload refused');
  }
}
