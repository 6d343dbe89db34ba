export type BackendErrorCode = 'BACKEND_PORT_IN_USE' | 'BACKEND_LISTEN_FAILED' | 'BACKEND_STORE_OPEN_FAILED';

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
  API_DEVICE_NOT_FOUND: 404,
  API_ROUTE_NOT_FOUND: 404,
  API_INTERNAL: 500,
  API_NOT_READY: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = API_ERRORS[code];
  }
}
