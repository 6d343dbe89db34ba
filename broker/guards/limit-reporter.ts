import type { Logger } from 'pino';
import type { BrokerMetrics, LimitName } from '../metrics/metrics.js';
import { OncePerKey } from '../../contract/log-once.js';

/**
 * Counts every hit of a limit and logs it once per client (a client object, or a remote address
 * before there is one): a misbehaving client must be visible without flooding the log.
 */
export class LimitReporter {
  private readonly seen = new OncePerKey();

  constructor(
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {}

  hit(limit: LimitName, key: object | string, fields: Record<string, unknown>, message: string): void {
    this.metrics.limitHits.inc({ limit });
    if (this.seen.first(key, limit)) this.log.warn({ limit, ...fields }, message);
    else this.log.debug({ limit, ...fields }, message);
  }
}
