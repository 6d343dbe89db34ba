/**
 * Stable codes of the backend's own failures. Callers match on `code`, never on the message.
 * - `BACKEND_*`: start-up and wiring
 * - `STORE_*`: a ReadingStore or its query workers
 */
export type BackendErrorCode =
  | 'BACKEND_PORT_IN_USE'
  | 'BACKEND_LISTEN_FAILED'
  | 'BACKEND_STORE_OPEN_FAILED'
  | 'BACKEND_REGISTRY_OPEN_FAILED'
  | 'BACKEND_ALERTS_OPEN_FAILED'
  | 'STORE_CLOSED'
  | 'STORE_QUERY_TIMEOUT'
  | 'STORE_QUERY_BUSY'
  | 'STORE_QUERY_ABORTED'
  | 'STORE_QUERY_FAILED'
  /** The store's writer thread died (crashed, out of memory): the writes in flight failed and are retried on a new one. */
  | 'STORE_WRITE_FAILED'
  /** InfluxDB does not answer (refused, reset, timed out): store.influx.url. */
  | 'STORE_INFLUX_UNREACHABLE'
  /** 401/403: store.influx.token, or username and password. */
  | 'STORE_INFLUX_UNAUTHORIZED'
  /** 404: the database, retention policy, bucket or org does not exist. */
  | 'STORE_INFLUX_NOT_FOUND'
  /** 400/422: InfluxDB refused points for good (a field type conflict, a time outside the retention policy). */
  | 'STORE_INFLUX_REFUSED'
  /** 413: the request body is past InfluxDB's max-body-size (store.influx.maxBatchBytes). */
  | 'STORE_INFLUX_TOO_LARGE'
  /** 429/503: InfluxDB asks to wait (Retry-After). */
  | 'STORE_INFLUX_BUSY'
  /** Any other failure of InfluxDB (5xx, a malformed answer). */
  | 'STORE_INFLUX_FAILED';

export class BackendError extends Error {
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'BackendError';
  }
}

/** The codes the HTTP API answers with, each with its status; the body is always `{ statusCode, code, error, message }`. */
export const API_ERRORS = {
  API_BAD_REQUEST: 400,
  API_UNAUTHORIZED: 401,
  API_FORBIDDEN: 403,
  API_DEVICE_NOT_FOUND: 404,
  API_ROUTE_NOT_FOUND: 404,
  API_RATE_LIMITED: 429,
  API_INTERNAL: 500,
  API_NOT_READY: 503,
  /** The query did not finish within its budget (`query.timeoutMs`). */
  API_QUERY_TIMEOUT: 503,
  /** Every query worker is taken (or still finishing queries that timed out): retry later. */
  API_QUERY_BUSY: 503,
  /** The request as a whole (not only its query) ran past `http.handlerTimeoutMs`. */
  API_TIMEOUT: 503,
  /** No pending or firing alert has that id (POST /api/v1/alerts/{id}/ack). */
  API_ALERT_NOT_FOUND: 404,
  API_SILENCE_NOT_FOUND: 404,
  /** A rule set with problems; the body lists them all in `problems`. */
  API_RULES_INVALID: 400,
  /** The rules live inline in the backend config, which the API never rewrites. */
  API_RULES_READ_ONLY: 409,
  /** Not one of the commands an agent answers (contract COMMAND_NAMES). */
  API_COMMAND_UNKNOWN: 404,
  /** The registry says the device is offline (its will or last status): a command is not even sent. */
  API_DEVICE_OFFLINE: 409,
  /** Too many commands wait for a reply (commands.maxInFlightPerDevice, commands.maxInFlight): refused, not queued. */
  API_DEVICE_BUSY: 429,
  /** The agent did not reply within the command's timeout; a later reply is dropped. */
  API_DEVICE_TIMEOUT: 504,
  /** The backend cannot send commands or hear replies now (not connected to the broker, or no reply subscription). */
  API_BROKER_UNAVAILABLE: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** Extra response headers, e.g. `www-authenticate` on a 401. */
    readonly headers: Record<string, string> = {},
    /** Extra body fields beside `{ statusCode, code, error, message }`, e.g. `offlineSince`; the route's schema declares them. */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = API_ERRORS[code];
  }
}
