import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { type InfluxError, type InfluxTarget, httpFailure, networkFailure } from './influx-errors.js';
import type { InfluxSettings } from './influx-settings.js';

// v2 writes: POST /api/v2/write through @influxdata/influxdb-client's WriteApi (InfluxDB 2.x, 3.x,
// Cloud, and 1.8+ through its compatibility endpoint). The client's own retry buffer is turned off
// (maxRetries 0): it would hold failed lines in memory and resolve flush() before they are written,
// while the store must resolve only once InfluxDB has them. Retries live in influx-line-writer.ts,
// the same for v1 and v2.

/** Sends one request's lines; throws a classified InfluxError. */
export type SendLines = (lines: readonly string[]) => Promise<void>;

let loggerSet = false;

export function v2Sender(settings: InfluxSettings, target: InfluxTarget, log: Logger): SendLines {
  if (!loggerSet) {
    // The client logs every failed write to the console; the store logs them itself, once, with the setting to check.
    loggerSet = true;
    setLogger({
      error: (message: string) => log.debug({ client: message }, 'influxdb-client'),
      warn: (message: string) => log.debug({ client: message }, 'influxdb-client'),
    });
  }
  // 1.8+ takes "username:password" as its token.
  const token = settings.token ?? (settings.username ? `${settings.username}:${settings.password ?? ''}` : undefined);
  const client = new InfluxDB({ url: settings.url, ...(token === undefined ? {} : { token }), timeout: settings.timeoutMs });
  const v2Target = { ...target, where: `bucket "${settings.bucket}"${settings.org ? ` (org "${settings.org}")` : ''}` };
  return async (lines) => {
    // One WriteApi per request, sized so that it never flushes on its own: an automatic flush's
    // failure would be swallowed by the client, and those lines would be lost without a word.
    const api = client.getWriteApi(settings.org, settings.bucket, 'ns', {
      batchSize: lines.length + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: 0,
      gzipThreshold: 64 * 1024,
    });
    try {
      api.writeRecords(lines as string[]);
      await api.flush();
    } catch (error) {
      throw classify(v2Target, error, settings.timeoutMs);
    } finally {
      api.dispose();
    }
  };
}

function classify(target: InfluxTarget, error: unknown, timeoutMs: number): InfluxError {
  if (error instanceof HttpError) {
    const retryAfter = error.headers?.['retry-after'];
    return httpFailure(target, error.statusCode, error.body ?? error.message, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  }
  return networkFailure(target, error, timeoutMs);
}
