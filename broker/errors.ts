import { codedErrorClass } from '../contract/coded-error.js';

/**
 * The broker's error catalogue, as fastify's lib/errors.js keeps its own: each stable code beside
 * its default message (what it means; a throw site may say more). Safe to match on, named in logs
 * and start-up messages. The start-up and CLI ones stop the process with a message; the
 * connection ones are what a refused or disconnected client is logged with.
 */
export const BROKER_ERRORS = {
  // start-up
  BROKER_PORT_IN_USE: { message: 'a listener port is already in use' },
  BROKER_LISTEN_FAILED: { message: 'a listener cannot listen (host, port)' },
  BROKER_TLS_FILES_UNREADABLE: { message: 'the TLS key or certificate cannot be read' },
  BROKER_CREDENTIALS_UNREADABLE: { message: 'the credentials file cannot be read' },
  BROKER_CREDENTIALS_INVALID: { message: 'the credentials file has a line that is not a valid credential' },
  BROKER_PERSISTENCE_UNAVAILABLE: { message: 'the persistence (Redis) cannot be reached' },
  // furnace-broker passwd
  BROKER_CREDENTIALS_UNWRITABLE: { message: 'the credentials file cannot be written' },
  BROKER_PASSWD_USAGE: { message: 'furnace-broker passwd was called wrongly' },
  BROKER_USER_INVALID: { message: 'not a valid user name or role' },
  BROKER_USER_NOT_FOUND: { message: 'no such user in the credentials file' },
  // connections
  BROKER_CLIENT_ID_REJECTED: { message: 'the client id is not allowed for this user' },
  BROKER_PACKET_TOO_LARGE: { message: 'a packet is past the size limit' },
  BROKER_PUBLISH_RATE_EXCEEDED: { message: "a client publishes faster than its role's rate limit" },
  BROKER_SUBSCRIBER_QUEUE_FULL: { message: "a subscriber's queue of outgoing messages is full" },
} as const satisfies Record<string, { message: string }>;
export type BrokerErrorCode = keyof typeof BROKER_ERRORS;

export class BrokerError extends codedErrorClass<BrokerErrorCode>('BrokerError', BROKER_ERRORS) {}
