// POSTing JSON to a running backend's API with a token, as scripts do.
import { READ_TOKEN } from './backend-app.js';
import type { ApiAnswer } from './backend-http.js';

/** POST `body` as JSON to `path` of the API at `base`, with a token (none with `null`); `undefined` body: none at all. */
export async function apiPost<T = unknown>(
  base: string,
  path: string,
  body: unknown,
  token: string | null = READ_TOKEN,
): Promise<ApiAnswer<T>> {
  const started = performance.now();
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(40_000),
  });
  const text = await response.text();
  const parsed = (response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text) as T;
  return { status: response.status, body: parsed, ms: performance.now() - started };
}
