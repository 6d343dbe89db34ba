import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { AgentError } from './errors.js';

export interface HealthReport {
  /** false when the agent cannot do its job: it then answers 503. */
  ok: boolean;
  [detail: string]: unknown;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `/healthz` (JSON, 200 or 503) and `/metrics` (Prometheus) on a small HTTP port, for a
 * supervisor or a scraper on the plant network. Plain node:http: two routes need no framework.
 */
export async function startHealthServer(options: {
  host: string;
  port: number;
  health: () => HealthReport;
  registry: Registry;
}): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/healthz') {
      const report = options.health();
      response.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify(report));
    } else if (request.method === 'GET' && path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': options.registry.contentType });
          response.end(text);
        },
        (error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`metrics failed: ${(error as Error).message}`);
        },
      );
    } else {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'not found', routes: ['/healthz', '/metrics'] }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new AgentError(
          'AGENT_HEALTH_PORT_FAILED',
          error.code === 'EADDRINUSE'
            ? `health port ${options.port} on ${options.host} is already in use (setting health.port)`
            : `cannot listen on ${options.host}:${options.port}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
