import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ConnectionInfo, ConnectionRegistry } from '../hooks/connections.js';
import type { LimitReporter } from '../guards/limit-reporter.js';

/** What every listener needs: the connection count, and the hand-over to aedes. */
export interface ListenerDeps {
  readonly connections: ConnectionRegistry;
  readonly limits: LimitReporter;
  readonly attach: (stream: Duplex, info: ConnectionInfo, request?: IncomingMessage) => void;
  readonly connectTimeoutMs: number;
  readonly log: Logger;
}
