import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errorCode } from '../errors.js';
import { type HealthReport, type HealthServer, startHealthServer } from './health-server.js';

export interface HealthEndpointOptions {
  host: string;
  port: number;
  health: () => HealthReport;
  registry: Registry;
  log: Logger;
  /** Wait between attempts to listen when the port is taken (default 30 s). */
  retryMs?: number;
}

export interface HealthEndpoint {
  /** The port listened on, once listening. */
  readonly port: number | undefined;
  /** Settles after the first attempt to listen, whatever its outcome. */
  readonly started: Promise<void>;
  close(): Promise<void>;
}

/**
 * /healthz and /metrics, kept trying: a taken port (node_exporter also defaults to 9100) is
 * logged as an error naming the setting and tried again every half minute, but never stops the
 * agent. Reading the furnace is the job; the health port is how it is watched, and a watcher
 * probing it will notice it is missing.
 */
export function serveHealth(options: HealthEndpointOptions): HealthEndpoint {
  let server: HealthServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let failures = 0;
  const attempt = async (): Promise<void> => {
    try {
      const started = await startHealthServer(options);
      if (closed) return void (await started.close());
      server = started;
      options.log.info(
        { host: options.host, port: started.port },
        failures > 0 ? 'health server listening at last' : 'health server listening',
      );
    } catch (error) {
      failures++;
      const fields = { err: error, code: errorCode(error), retryInMs: options.retryMs ?? 30_000 };
      if (failures === 1) options.log.error(fields, 'health server not started; the agent reads and publishes without it');
      else options.log.debug(fields, 'health server still not started');
      if (!closed) {
        timer = setTimeout(() => void attempt(), options.retryMs ?? 30_000);
        timer.unref();
      }
    }
  };
  const started = attempt();
  return {
    get port() {
      return server?.port;
    },
    started,
    async close() {
      closed = true;
      clearTimeout(timer);
      await started;
      await server?.close();
    },
  };
}
