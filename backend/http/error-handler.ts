import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API_ERRORS, ApiError, type ApiErrorCode, BackendError } from '../errors.js';

/** The one error shape of the API, as fastify's own errors have it. */
export interface ApiErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

const reasons: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function errorBody(statusCode: number, code: string, message: string): ApiErrorBody {
  return { statusCode, code, error: reasons[statusCode] ?? 'Error', message };
}

interface ValidationItem {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/**
 * A schema violation, worded to name the parameter: "limit: must be <= 10000",
 * "querystring: unknown parameter "order"". Ajv reports paths; clients think in parameter names.
 */
function validationMessage(error: FastifyError): string {
  const item = (error.validation as ValidationItem[] | undefined)?.[0];
  if (!item) return error.message;
  const where = error.validationContext ?? 'request';
  const name = item.instancePath?.replace(/^\//, '').replaceAll('/', '.') || where;
  // Named after the object that holds it: "args: unknown parameter "x"" for a command's argument.
  if (item.keyword === 'additionalProperties') return `${name}: unknown parameter ${JSON.stringify(item.params?.additionalProperty)}`;
  if (item.keyword === 'enum')
    return `${name}: must be one of ${(item.params?.allowedValues as string[] | undefined)?.join(', ') ?? '(see the API document)'}`;
  return `${name}: ${item.message ?? 'is not valid'}`;
}

/** fastify's own 4xx errors (FST_ERR_CTP_BODY_TOO_LARGE, FST_ERR_CTP_INVALID_MEDIA_TYPE, ...), by status, under our codes. */
const FASTIFY_4XX: Partial<Record<number, ApiErrorCode>> = { 413: 'API_BODY_TOO_LARGE', 415: 'API_UNSUPPORTED_MEDIA_TYPE' };

/** The store's own failures, as API errors with stable codes. */
function fromBackendError(error: BackendError): ApiError | undefined {
  switch (error.code) {
    case 'STORE_QUERY_TIMEOUT':
      return new ApiError('API_QUERY_TIMEOUT', `${error.message}: ask for a shorter range, a wider every, or a smaller limit`);
    case 'STORE_QUERY_BUSY':
      return new ApiError('API_QUERY_BUSY', `${error.message}; retry shortly`, { 'retry-after': '1' });
    case 'STORE_QUERY_ABORTED':
      return new ApiError('API_TIMEOUT', 'the request was cancelled before its query finished');
    case 'STORE_CLOSED':
      return new ApiError('API_NOT_READY', 'the store is closed: the backend is stopping');
    case 'STORE_INFLUX_UNREACHABLE':
    case 'STORE_INFLUX_UNAUTHORIZED':
    case 'STORE_INFLUX_NOT_FOUND':
    case 'STORE_INFLUX_BUSY':
    case 'STORE_INFLUX_FAILED':
      // InfluxDB is down or misconfigured: a fast, clear 503 rather than a 500 with a stack.
      return new ApiError('API_NOT_READY', `the store cannot answer: ${error.message}`, { 'retry-after': '5' });
    case 'STORE_INFLUX_REFUSED':
    case 'STORE_INFLUX_TOO_LARGE':
    case 'STORE_QUERY_FAILED':
    case 'STORE_WRITE_FAILED':
    case 'BACKEND_PORT_IN_USE':
    case 'BACKEND_LISTEN_FAILED':
    case 'BACKEND_STORE_OPEN_FAILED':
    case 'BACKEND_REGISTRY_OPEN_FAILED':
    case 'BACKEND_ALERTS_OPEN_FAILED':
      return undefined;
  }
}

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .status(error.statusCode)
    .headers(error.headers)
    .send({ ...errorBody(error.statusCode, error.code, error.message), ...error.fields });
}

/** Every error leaves the API as `{ statusCode, code, error, message }`, with a stable code. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError | BackendError, request: FastifyRequest, reply) => {
    if (error instanceof ApiError) return send(reply, error);
    const mapped = error instanceof BackendError ? fromBackendError(error) : undefined;
    if (mapped) return send(reply, mapped);
    if ('validation' in error && error.validation) return send(reply, new ApiError('API_BAD_REQUEST', validationMessage(error)));
    if (error.code === 'FST_ERR_HANDLER_TIMEOUT') {
      return send(reply, new ApiError('API_TIMEOUT', `the request did not finish within ${request.routeOptions.handlerTimeout} ms`));
    }
    const statusCode = 'statusCode' in error ? error.statusCode : undefined;
    const status = statusCode && statusCode >= 400 && statusCode < 500 ? statusCode : 500;
    if (status === 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(500).send(errorBody(500, 'API_INTERNAL', API_ERRORS.API_INTERNAL.message));
    }
    // A fastify 4xx (a body too large, of a type the route does not take, malformed JSON): keep its
    // status, under our code for it; the rest of them are requests that are not valid.
    return reply.status(status).send(errorBody(status, FASTIFY_4XX[status] ?? 'API_BAD_REQUEST', error.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(API_ERRORS.API_ROUTE_NOT_FOUND.statusCode)
      .send(errorBody(404, 'API_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );
}
