// Every request of the page goes through here: to the backend that served the page (no other
// host), with the bearer token when one is set.

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  /** Called on a 401: the token is missing or no longer valid. */
  onUnauthorized: () => void = () => undefined;

  constructor(private token: string | undefined) {}

  setToken(token: string | undefined): void {
    this.token = token;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === undefined ? extra : { ...extra, authorization: `Bearer ${this.token}` };
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, undefined, signal);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.request('DELETE', path);
  }

  private async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const init: RequestInit = {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      cache: 'no-store',
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (signal) init.signal = signal;
    const response = await fetch(path, init);
    if (response.status === 401) this.onUnauthorized();
    if (!response.ok) {
      const error = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
      throw new ApiFailure(response.status, error.code ?? 'HTTP_ERROR', error.message ?? `${method} ${path}: ${response.status}`);
    }
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}
