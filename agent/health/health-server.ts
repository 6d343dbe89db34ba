import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { describeListenFailure, listenOn } from '../../contract/listen.js';
import { AgentError } from '../errors.js';

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
  await listenOn(server, options.port, options.host).catch((error: unknown) => {
    const target = { host: options.host, port: options.port, name: 'health port', inUseHint: ' (setting health.port)' };
    throw new AgentError('AGENT_HEALTH_PORT_FAILED', describeListenFailure(error, target).message, { cause: error });
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
