/**
 * Stable codes of the broker's errors: safe to match on, named in logs and start-up messages.
 * The start-up and CLI ones stop the process with a message; the connection ones are what a
 * refused or disconnected client is logged with.
 */
export type BrokerErrorCode =
  // start-up
  | 'BROKER_PORT_IN_USE'
  | 'BROKER_LISTEN_FAILED'
  | 'BROKER_TLS_FILES_UNREADABLE'
  | 'BROKER_CREDENTIALS_UNREADABLE'
  | 'BROKER_CREDENTIALS_INVALID'
  | 'BROKER_PERSISTENCE_UNAVAILABLE'
  // furnace-broker passwd
  | 'BROKER_CREDENTIALS_UNWRITABLE'
  | 'BROKER_PASSWD_USAGE'
  | 'BROKER_USER_INVALID'
  | 'BROKER_USER_NOT_FOUND'
  // connections
  | 'BROKER_CLIENT_ID_REJECTED'
  | 'BROKER_PACKET_TOO_LARGE'
  | 'BROKER_PUBLISH_RATE_EXCEEDED'
  | 'BROKER_SUBSCRIBER_QUEUE_FULL';

export class BrokerError extends Error {
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'BrokerError';
  }
}
