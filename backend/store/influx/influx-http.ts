import { BackendError } from '../../errors.js';
import { InfluxError, type InfluxTarget, httpFailure, networkFailure } from './influx-errors.js';
import { type InfluxSettings, influxDatabase } from './influx-settings.js';

// The plain-HTTP side of InfluxDB: /ping, InfluxQL over /query (1.x natively; 2.x, 3.x and Cloud
// through their v1 compatibility API) and the 1.x /write endpoint. v2 writes go through
// @influxdata/influxdb-client instead (influx-write-v2.ts).

/** One series of an InfluxQL answer: `{"name", "tags", "columns", "values"}`. */
export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

interface QueryAnswer {
  results?: Array<{ statement_id?: number; series?: InfluxSeries[]; error?: string }>;
  error?: string;
}

export class InfluxHttp {
  readonly target: InfluxTarget;
  private readonly headers: Record<string, string> = {};

  constructor(private readonly settings: InfluxSettings) {
    const database = influxDatabase(settings);
    const rp = settings.retentionPolicy ? `, retention policy "${settings.retentionPolicy}"` : '';
    this.target = { url: settings.url, where: `database "${database}"${rp}` };
    if (settings.token) this.headers.authorization = `Token ${settings.token}`;
    else if (settings.username) {
      this.headers.authorization = `Basic ${Buffer.from(`${settings.username}:${settings.password ?? ''}`).toString('base64')}`;
    }
  }

  /** The server's version from /ping (X-Influxdb-Version), '' when it does not say (e.g. VictoriaMetrics). */
  async ping(signal?: AbortSignal): Promise<string> {
    const response = await this.send('GET', '/ping', undefined, signal);
    await response.body?.cancel();
    if (response.status !== 204 && response.status !== 200)
      throw httpFailure(this.target, response.status, '', response.headers.get('retry-after'));
    return response.headers.get('x-influxdb-version') ?? '';
  }

  /** One InfluxQL statement; answers its series. A statement error (bad query) is STORE_QUERY_FAILED. */
  async query(q: string, options: { signal?: AbortSignal | undefined; write?: boolean } = {}): Promise<InfluxSeries[]> {
    const params = new URLSearchParams({ db: influxDatabase(this.settings), epoch: 'ms', q });
    if (this.settings.retentionPolicy) params.set('rp', this.settings.retentionPolicy);
    // InfluxQL that changes something (CREATE DATABASE) must be a POST.
    const response = options.write
      ? await this.send('POST', '/query', params.toString(), options.signal, 'application/x-www-form-urlencoded')
      : await this.send('GET', `/query?${params.toString()}`, undefined, options.signal);
    const text = await this.body(response, options.signal);
    if (response.status >= 300) throw httpFailure(this.target, response.status, text, response.headers.get('retry-after'));
    let answer: QueryAnswer;
    try {
      answer = JSON.parse(text) as QueryAnswer;
    } catch {
      throw new InfluxError(
        'STORE_INFLUX_FAILED',
        `InfluxDB at ${this.settings.url} answered /query with something that is not JSON`,
        'retry',
        response.status,
        undefined,
      );
    }
    const failure = answer.error ?? answer.results?.find((result) => result.error)?.error;
    if (failure) throw new BackendError('STORE_QUERY_FAILED', `InfluxQL query failed: ${failure}`);
    // A series with no rows (SHOW DATABASES on an empty server) comes without `values`.
    return answer.results?.flatMap((result) => (result.series ?? []).map((one) => ({ ...one, values: one.values ?? [] }))) ?? [];
  }

  /** POST /write (InfluxDB 1.x): line protocol, ns precision. Throws a classified InfluxError. */
  async writeV1(body: string, signal?: AbortSignal): Promise<void> {
    const params = new URLSearchParams({ db: influxDatabase(this.settings), precision: 'ns' });
    if (this.settings.retentionPolicy) params.set('rp', this.settings.retentionPolicy);
    const response = await this.send('POST', `/write?${params.toString()}`, body, signal, 'text/plain; charset=utf-8');
    const text = await this.body(response, signal);
    if (response.status !== 204 && response.status !== 200)
      throw httpFailure(this.target, response.status, text, response.headers.get('retry-after'));
  }

  /** The answer's body; a connection cut or a timeout while it streams is a network failure like any other. */
  private async body(response: Response, signal: AbortSignal | undefined): Promise<string> {
    try {
      return await response.text();
    } catch (error) {
      if (signal?.aborted) throw new BackendError('STORE_QUERY_ABORTED', 'the query was cancelled', { cause: error });
      throw networkFailure(this.target, error, this.settings.timeoutMs);
    }
  }

  private async send(
    method: string,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    type?: string,
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    try {
      return await fetch(`${this.settings.url.replace(/\/+$/, '')}${path}`, {
        method,
        body,
        headers: { ...this.headers, ...(type ? { 'content-type': type } : {}) },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw new BackendError('STORE_QUERY_ABORTED', 'the query was cancelled', { cause: error });
      throw networkFailure(
        this.target,
        timeout.aborted ? Object.assign(new Error('timeout'), { name: 'TimeoutError' }) : error,
        this.settings.timeoutMs,
      );
    }
  }
}

/** A string as an InfluxQL string literal ('...'), for tag values in WHERE. */
export function influxString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** An identifier as InfluxQL quotes it ("..."). */
export function influxIdentifier(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
