import { createServer } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BrokerConfig } from '../config.js';
import { type Listening, listen } from '../listeners/listen.js';

/** GET /metrics (Prometheus text format) and GET /healthz, on their own HTTP port. */
export async function startMetricsServer(config: BrokerConfig['metrics'], registry: Registry, log: Logger): Promise<Listening> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || (path !== '/metrics' && path !== '/healthz')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics or /healthz\n');
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => {
        log.error({ err: error }, 'metrics collection failed');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  // Scrapers keep connections alive; do not let one hold shutdown.
  server.keepAliveTimeout = 1000;
  const listening = await listen(server, config.host, config.port, 'metrics.port');
  return {
    port: listening.port,
    close: async () => {
      server.closeAllConnections();
      await listening.close();
    },
  };
}
