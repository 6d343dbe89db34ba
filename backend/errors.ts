// The backend's error catalogues, as fastify's lib/errors.js keeps its own: each stable code beside
// its default message (what the code means; a throw site may say more) and, for the API, its HTTP
// status. Callers match on `code`, never on the message.
import { codedErrorClass } from '../contract/coded-error.js';

/** The backend's own failures: `BACKEND_*` at start-up and in wiring, `STORE_*` in a ReadingStore or its query workers. */
export const BACKEND_ERRORS = {
  BACKEND_PORT_IN_USE: { message: 'the HTTP port (http.port) is already in use' },
  BACKEND_LISTEN_FAILED: { message: 'the HTTP API cannot listen (http.host, http.port)' },
  BACKEND_STORE_OPEN_FAILED: { message: 'the reading store cannot be opened' },
  BACKEND_REGISTRY_OPEN_FAILED: { message: 'the device registry cannot be opened' },
  BACKEND_ALERTS_OPEN_FAILED: { message: 'the alert state cannot be opened' },
  STORE_CLOSED: { message: 'the store is closed' },
  STORE_QUERY_TIMEOUT: { message: 'the query did not finish within its budget (query.timeoutMs)' },
  STORE_QUERY_BUSY: { message: 'every query worker is taken' },
  STORE_QUERY_ABORTED: { message: 'the query was cancelled before it finished' },
  STORE_QUERY_FAILED: { message: 'the query failed' },
  STORE_WRITE_FAILED: {
    message: "the store's writer thread died (crashed, out of memory): the writes in flight failed and are retried on a new one",
  },
  STORE_INFLUX_UNREACHABLE: { message: 'InfluxDB does not answer (refused, reset, timed out): store.influx.url' },
  STORE_INFLUX_UNAUTHORIZED: { message: 'InfluxDB refused the credentials (401/403): store.influx.token, or username and password' },
  STORE_INFLUX_NOT_FOUND: { message: 'the InfluxDB database, retention policy, bucket or org does not exist (404)' },
  STORE_INFLUX_REFUSED: {
    message: 'InfluxDB refused points for good (400/422: a field type conflict, a time outside the retention policy)',
  },
  STORE_INFLUX_TOO_LARGE: { message: "the request body is past InfluxDB's max-body-size (413): store.influx.maxBatchBytes" },
  STORE_INFLUX_BUSY: { message: 'InfluxDB asks to wait (429/503, Retry-After)' },
  STORE_INFLUX_FAILED: { message: 'InfluxDB failed (5xx, a malformed answer)' },
} as const satisfies Record<string, { message: string }>;
export type BackendErrorCode = keyof typeof BACKEND_ERRORS;

export class BackendError extends codedErrorClass<BackendErrorCode>('BackendError', BACKEND_ERRORS) {}

/**
 * The codes the HTTP API answers with, each with its status and default message; the body is
 * always `{ statusCode, code, error, message }`. README.md ("API errors") lists them for clients.
 */
export const API_ERRORS = {
  API_BAD_REQUEST: { statusCode: 400, message: 'the request is not valid; the message names the parameter at fault' },
  API_UNAUTHORIZED: { statusCode: 401, message: 'authorization: a valid Bearer token is needed' },
  API_FORBIDDEN: { statusCode: 403, message: "the token's scope does not allow this request" },
  API_DEVICE_NOT_FOUND: { statusCode: 404, message: 'no such device' },
  API_ROUTE_NOT_FOUND: { statusCode: 404, message: 'no such route' },
  /** The body is past the API's body limit (fastify's bodyLimit, 1 MiB). */
  API_BODY_TOO_LARGE: { statusCode: 413, message: 'the request body is too large' },
  /** The body's Content-Type is not one the route takes (JSON; YAML for the rules). */
  API_UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, message: 'the Content-Type of the body is not one this route takes' },
  API_RATE_LIMITED: { statusCode: 429, message: 'rate limit reached; retry later' },
  API_INTERNAL: { statusCode: 500, message: 'internal error; see the backend log' },
  API_NOT_READY: { statusCode: 503, message: 'the backend cannot answer now' },
  API_QUERY_TIMEOUT: { statusCode: 503, message: 'the query did not finish within its budget (query.timeoutMs)' },
  API_QUERY_BUSY: { statusCode: 503, message: 'every query worker is taken (or still finishing queries that timed out); retry later' },
  API_TIMEOUT: { statusCode: 503, message: 'the request as a whole ran past http.handlerTimeoutMs' },
  /** POST /api/v1/alerts/{id}/ack. */
  API_ALERT_NOT_FOUND: { statusCode: 404, message: 'no pending or firing alert has that id' },
  API_SILENCE_NOT_FOUND: { statusCode: 404, message: 'no such silence' },
  /** The body lists every problem in `problems`. */
  API_RULES_INVALID: { statusCode: 400, message: 'the rule set has problems' },
  API_RULES_READ_ONLY: { statusCode: 409, message: 'the rules live inline in the backend config, which the API never rewrites' },
  API_COMMAND_UNKNOWN: { statusCode: 404, message: 'not one of the commands an agent answers' },
  API_DEVICE_OFFLINE: { statusCode: 409, message: 'the device is offline (its will or last status): the command was not sent' },
  API_DEVICE_BUSY: {
    statusCode: 429,
    message: 'too many commands wait for a reply (commands.maxInFlightPerDevice, commands.maxInFlight): refused, not queued',
  },
  API_DEVICE_TIMEOUT: { statusCode: 504, message: "the agent did not reply within the command's timeout; a later reply is dropped" },
  API_BROKER_UNAVAILABLE: {
    statusCode: 503,
    message: 'the backend cannot send commands or hear replies now (not connected to the broker, or no reply subscription)',
  },
} as const satisfies Record<string, { statusCode: number; message: string }>;
export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string = API_ERRORS[code].message,
    /** Extra response headers, e.g. `www-authenticate` on a 401. */
    readonly headers: Record<string, string> = {},
    /** Extra body fields beside `{ statusCode, code, error, message }`, e.g. `offlineSince`; the route's schema declares them. */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = API_ERRORS[code].statusCode;
  }
}
