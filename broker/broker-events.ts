// Listens to aedes' events: logs them with their component, counts CONNACKs, and turns the
// errors aedes reports for limits it enforces itself (drain, connect and keepalive timeouts)
// into limit hits. Broken clients are routine on a plant network: nothing here ever throws.
import type { Aedes, Client } from 'aedes';
import type { Logger } from 'pino';
import type { ConnectionRegistry } from './hooks/connections.js';
import { BrokerError } from './errors.js';
import { CONNACK_RESULTS } from './hooks/hook-context.js';
import type { LimitReporter } from './guards/limit-reporter.js';
import type { BrokerMetrics } from './metrics/metrics.js';

export interface EventDeps {
  readonly metrics: BrokerMetrics;
  readonly limits: LimitReporter;
  readonly connections: ConnectionRegistry;
  readonly log: Logger;
}

// The messages aedes 1.2 gives these errors (lib/client.js); it has no error codes.
const DRAIN_TIMEOUT = 'drain timeout';
const CONNECT_TIMEOUT = 'connect did not arrive in time';
const KEEPALIVE_TIMEOUT = 'keep alive timeout';

export function watchBrokerEvents(aedes: Aedes, { metrics, limits, connections, log }: EventDeps): void {
  const describe = (client: Client) => {
    const info = connections.infoOf(client.conn);
    return { clientId: client.id, remoteAddress: info.remoteAddress, listener: info.listener };
  };

  aedes.on('connackSent', (packet) => metrics.connects.inc({ result: CONNACK_RESULTS[packet.returnCode ?? 0] ?? 'other' }));
  aedes.on('client', (client) => log.debug(describe(client), 'client connected'));
  aedes.on('clientDisconnect', (client) => log.debug(describe(client), 'client disconnected'));
  aedes.on('keepaliveTimeout', (client) =>
    limits.hit('keepalive_timeout', client, describe(client), 'client silent past its keepalive: disconnected'),
  );

  // aedes reports the drain timeout again for every write that was waiting on that socket.
  const drainedOut = new WeakSet<Client>();
  const onError = (client: Client, error: Error) => {
    const fields = { ...describe(client), err: error };
    if (error instanceof BrokerError) return log.debug(fields, 'client disconnected'); // reported where it was raised
    switch (error.message) {
      case DRAIN_TIMEOUT:
        if (drainedOut.has(client)) return;
        drainedOut.add(client);
        return limits.hit('drain_timeout', client, describe(client), 'subscriber socket full for limits.drainTimeoutMs: disconnected');
      case CONNECT_TIMEOUT: {
        const { remoteAddress } = connections.infoOf(client.conn);
        return limits.hit(
          'connect_timeout',
          remoteAddress,
          { remoteAddress },
          'no CONNECT within limits.connectTimeoutMs: connection closed',
        );
      }
      case KEEPALIVE_TIMEOUT:
        return; // counted by the keepaliveTimeout event
      default:
        return log.debug(fields, 'client error');
    }
  };
  aedes.on('clientError', onError);
  aedes.on('connectionError', onError);
  // Persistence failures and wills of dead cluster nodes that could not be published end up here.
  (aedes as NodeJS.EventEmitter).on('error', (error: unknown) => log.error({ err: error }, 'broker error'));
}
