import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../../../contract/backoff.js';
import { BackendError } from '../../errors.js';
import { InfluxError } from './influx-errors.js';
import type { InfluxSettings } from './influx-settings.js';
import type { SendLines } from './influx-write-v2.js';

// Sends points to InfluxDB in requests of at most batchSize points and maxBatchBytes bytes, and
// retries a failed request with exponential backoff and jitter, obeying Retry-After, for up to
// store.influx.retryForMs; past that it throws, and ingest (which has not acknowledged anything)
// calls again later. A request InfluxDB refuses for good (400/422) or as too large (413) is split
// in halves until the refused points are alone: those are handed back to be counted and logged,
// the rest is written. Sending a point again is harmless: the same key overwrites itself.

export interface LinePoint {
  line: string;
}

type Timing = Pick<InfluxSettings, 'batchSize' | 'maxBatchBytes' | 'retryForMs' | 'retryMinDelayMs' | 'retryMaxDelayMs'>;

export interface LineWriterHooks {
  /** Each failed attempt, before its pause. */
  failed?: (error: InfluxError, attempt: number, retryInMs: number | undefined) => void;
}

export class InfluxLineWriter {
  /** No request before this time (Date.now() ms): InfluxDB asked to wait (Retry-After). */
  private notBefore = 0;

  constructor(
    private readonly send: SendLines,
    private readonly timing: Timing,
    private readonly hooks: LineWriterHooks = {},
  ) {}

  /** Writes every point or throws; answers the points InfluxDB refused for good, each with why. */
  async write<P extends LinePoint>(points: readonly P[], signal: AbortSignal): Promise<Array<{ point: P; error: InfluxError }>> {
    const refused: Array<{ point: P; error: InfluxError }> = [];
    const deadline = Date.now() + this.timing.retryForMs;
    for (const chunk of this.chunks(points)) await this.sendRetrying(chunk, deadline, signal, refused);
    return refused;
  }

  /** Splits by count and by bytes (a line is counted in UTF-8 bytes, plus its newline). */
  private *chunks<P extends LinePoint>(points: readonly P[]): Generator<P[]> {
    let chunk: P[] = [];
    let bytes = 0;
    for (const point of points) {
      const size = Buffer.byteLength(point.line) + 1;
      if (chunk.length > 0 && (chunk.length >= this.timing.batchSize || bytes + size > this.timing.maxBatchBytes)) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(point);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }

  private async sendRetrying<P extends LinePoint>(
    chunk: P[],
    deadline: number,
    signal: AbortSignal,
    refused: Array<{ point: P; error: InfluxError }>,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.waitTurn(deadline, signal);
      try {
        await this.send(chunk.map((point) => point.line));
        return;
      } catch (thrown) {
        if (!(thrown instanceof InfluxError)) throw thrown;
        if (thrown.kind !== 'retry') {
          if (chunk.length === 1 && chunk[0]) {
            this.hooks.failed?.(thrown, attempt, undefined);
            refused.push({ point: chunk[0], error: thrown });
            return;
          }
          const half = Math.ceil(chunk.length / 2);
          await this.sendRetrying(chunk.slice(0, half), deadline, signal, refused);
          await this.sendRetrying(chunk.slice(half), deadline, signal, refused);
          return;
        }
        const { retryMinDelayMs: minMs, retryMaxDelayMs: maxMs } = this.timing;
        // "Equal jitter": half the pause fixed, half random, so that backends restarted together do not retry in step.
        const pause = backoffDelay(attempt, { minMs, maxMs, jitter: { below: 0.5, above: 0 } });
        if (thrown.retryAfterMs !== undefined) this.notBefore = Math.max(this.notBefore, Date.now() + thrown.retryAfterMs);
        const wait = Math.max(pause, this.notBefore - Date.now());
        const retry = Date.now() + wait <= deadline;
        this.hooks.failed?.(thrown, attempt, retry ? Math.round(wait) : undefined);
        if (!retry) throw thrown;
        await sleep(wait, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw new BackendError('STORE_CLOSED', 'the store closed while a write was being retried', { cause: thrown });
      }
    }
  }

  /** Waits out a Retry-After that another write was given, or fails at once when it lasts past the deadline. */
  private async waitTurn(deadline: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new BackendError('STORE_CLOSED', 'the store is closed');
    const wait = this.notBefore - Date.now();
    if (wait <= 0) return;
    if (Date.now() + wait > deadline) {
      throw new InfluxError(
        'STORE_INFLUX_BUSY',
        `InfluxDB asked to wait until ${new Date(this.notBefore).toISOString()} (Retry-After); nothing is sent before then`,
        'retry',
        undefined,
        wait,
      );
    }
    await sleep(wait, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) throw new BackendError('STORE_CLOSED', 'the store is closed');
  }
}
