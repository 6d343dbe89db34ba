import { BackendError, type BackendErrorCode } from '../../errors.js';

// What an InfluxDB answer means for the write path, and a message that names the setting to look
// at, so an operator reads "store.influx.token" in /readyz and the log instead of a stack trace.

export type InfluxFailureKind =
  /** Try the same request again later: InfluxDB is down, slow, busy or misconfigured (the operator can fix it meanwhile). */
  | 'retry'
  /** The body is too large: send it again in smaller parts. */
  | 'split'
  /** InfluxDB refuses these points for good; a single point refused is counted and dropped, a larger request is split to find it. */
  | 'refused';

export class InfluxError extends BackendError {
  constructor(
    code: BackendErrorCode,
    message: string,
    readonly kind: InfluxFailureKind,
    /** HTTP status, when InfluxDB answered. */
    readonly status: number | undefined,
    /** ms InfluxDB asked to wait (Retry-After), if it did. */
    readonly retryAfterMs: number | undefined,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.name = 'InfluxError';
  }
}

/** Retry-After is seconds (RFC 9110 §10.2.3) or an HTTP date. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The error text InfluxDB put in its body ({"error": ...} in 1.x, {"message": ...} in 2.x), short. */
export function influxMessage(body: string): string {
  let text = body.trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    const field = parsed.error ?? parsed.message;
    if (typeof field === 'string') text = field;
  } catch {
    // not JSON: the text as it is
  }
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

export interface InfluxTarget {
  url: string;
  /** What the request wrote to or read from, for messages: 'database "furnace"' or 'bucket "furnace" (org "plant")'. */
  where: string;
}

/** An HTTP answer that is not a success, classified. */
export function httpFailure(target: InfluxTarget, status: number, body: string, retryAfter: string | null | undefined): InfluxError {
  const said = influxMessage(body) || `HTTP ${status}`;
  const wait = parseRetryAfter(retryAfter);
  const at = `InfluxDB at ${target.url}`;
  if (status === 401 || status === 403) {
    return new InfluxError(
      'STORE_INFLUX_UNAUTHORIZED',
      `${at} refused the credentials (${status} ${said}): check store.influx.token, or store.influx.username and store.influx.password`,
      'retry',
      status,
      wait,
    );
  }
  if (status === 404) {
    return new InfluxError(
      'STORE_INFLUX_NOT_FOUND',
      `${at} has no ${target.where} (404 ${said}): check store.influx.database / store.influx.bucket, store.influx.org and store.influx.retentionPolicy, or create it`,
      'retry',
      status,
      wait,
    );
  }
  if (status === 413) {
    return new InfluxError(
      'STORE_INFLUX_TOO_LARGE',
      `${at} refused a write as too large (413 ${said}): lower store.influx.maxBatchBytes or store.influx.batchSize, or raise InfluxDB's max-body-size`,
      'split',
      status,
      wait,
    );
  }
  if (status === 400 || status === 422) {
    return new InfluxError(
      'STORE_INFLUX_REFUSED',
      `${at} refused points for good (${status} ${said}): a field type conflict means measurement "readings" in ${target.where} holds other data; choose another store.influx.database / store.influx.bucket`,
      'refused',
      status,
      wait,
    );
  }
  if (status === 429 || status === 503) {
    const until = wait === undefined ? '' : `, asking to wait ${Math.round(wait / 1000)} s (Retry-After)`;
    return new InfluxError('STORE_INFLUX_BUSY', `${at} is busy (${status} ${said})${until}`, 'retry', status, wait);
  }
  return new InfluxError('STORE_INFLUX_FAILED', `${at} failed (${status} ${said})`, 'retry', status, wait);
}

/** No answer at all: refused, reset, DNS, or past store.influx.timeoutMs. */
export function networkFailure(target: InfluxTarget, error: unknown, timeoutMs: number): InfluxError {
  const err = error as Error & { code?: string; cause?: { code?: string; message?: string } };
  const timedOut = err.name === 'TimeoutError' || err.name === 'RequestTimedOutError' || err.code === 'ETIMEDOUT';
  const code = err.cause?.code ?? err.code;
  const why = timedOut ? `no answer within ${timeoutMs} ms (store.influx.timeoutMs)` : `${code ?? err.cause?.message ?? err.message}`;
  return new InfluxError(
    'STORE_INFLUX_UNREACHABLE',
    `InfluxDB at ${target.url} does not answer: ${why} (store.influx.url)`,
    'retry',
    undefined,
    undefined,
    {
      cause: error,
    },
  );
}
