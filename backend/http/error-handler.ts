import type { FastifyError, FastifyInstance } from 'fastify';
import { API_ERRORS, ApiError } from '../errors.js';

/** The one error shape of the API, as fastify's own errors have it. */
export interface ApiErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

const reasons: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' };

export function errorBody(statusCode: number, code: string, message: string): ApiErrorBody {
  return { statusCode, code, error: reasons[statusCode] ?? 'Error', message };
}

/** Every error leaves the API as `{ statusCode, code, error, message }`, with a stable code. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.status(error.statusCode).send(errorBody(error.statusCode, error.code, error.message));
    }
    if ('validation' in error && error.validation) {
      // e.g. "params/device must match pattern ..." from the route's schema.
      return reply.status(400).send(errorBody(400, 'API_BAD_REQUEST', error.message));
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'request failed');
    const code = status === 500 ? 'API_INTERNAL' : (error.code ?? 'API_BAD_REQUEST');
    const message = status === 500 ? 'internal error; see the backend log' : error.message;
    return reply.status(status).send(errorBody(status, code, message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(API_ERRORS.API_ROUTE_NOT_FOUND)
      .send(errorBody(404, 'API_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );
}
