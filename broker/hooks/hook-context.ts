import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import type { ConnectionRegistry } from './connections.js';
import type { Credentials } from '../access/credentials.js';
import type { LimitReporter } from '../guards/limit-reporter.js';
import type { BrokerMetrics } from '../metrics/metrics.js';
import type { OncePerKey } from '../../contract/log-once.js';
import type { DropPacket } from './publish-drop.js';
import type { Sessions } from './sessions.js';

/** What the aedes hooks (connect checks, authentication, authorisation) share. */
export interface HookContext {
  readonly config: BrokerConfig;
  readonly sessions: Sessions;
  readonly connections: ConnectionRegistry;
  /** The credentials in force now (they are reloaded on change). */
  readonly credentials: () => Credentials;
  readonly metrics: BrokerMetrics;
  readonly limits: LimitReporter;
  /** Refusals and denials are logged once per client or address, then at debug level. */
  readonly once: OncePerKey;
  readonly drop: DropPacket;
  /** Logger of the `broker:auth` component. */
  readonly log: Logger;
}

/** CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3, table 3.1). */
export const ConnackCode = {
  accepted: 0,
  unacceptableProtocol: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badCredentials: 4,
  notAuthorized: 5,
} as const;
export type ConnackCode = (typeof ConnackCode)[keyof typeof ConnackCode];

export const CONNACK_RESULTS: Record<number, string> = {
  0: 'accepted',
  1: 'unacceptable_protocol',
  2: 'identifier_rejected',
  3: 'server_unavailable',
  4: 'bad_credentials',
  5: 'not_authorized',
};
