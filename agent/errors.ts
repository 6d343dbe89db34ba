import { codedErrorClass } from '../contract/coded-error.js';

/**
 * The agent's error catalogue, as fastify's lib/errors.js keeps its own: each stable code beside
 * its default message (what it means; a throw site may say more). Logs, tests and operators match
 * on the code. Errors at start-up stop the agent; errors while running are counted, logged and survived.
 */
export const AGENT_ERRORS = {
  AGENT_CONFIG_INVALID: { message: 'a setting is wrong in a way the schema cannot say (a sensor on an unknown port, ...)' },
  AGENT_TLS_FILE_UNREADABLE: { message: 'a TLS file named in the settings cannot be read' },
  AGENT_OUTBOX_OPEN_FAILED: { message: 'the outbox (outbox.sqlite in dataDir) cannot be opened' },
  AGENT_OUTBOX_WRITE_FAILED: { message: 'a reading could not be committed (disk full, I/O error): it is lost, and counted' },
  AGENT_SERIAL_OPEN_FAILED: { message: 'a serial port cannot be opened (missing, busy, no permission): it is reopened with backoff' },
  AGENT_SERIAL_LIST_FAILED: { message: 'USB serial ports cannot be listed (no udevadm), so a port given by USB VID:PID cannot be found' },
  AGENT_SERIAL_NOT_FOUND: { message: 'no USB serial port with the configured VID:PID is plugged in (yet)' },
  AGENT_TCP_CONNECT_FAILED: { message: 'a serial-over-TCP gateway does not accept the connection: it is retried with backoff' },
  AGENT_MODBUS_TIMEOUT: { message: 'a Modbus slave did not answer in time (spec §16: the master times out)' },
  AGENT_MODBUS_CRC: { message: 'a Modbus answer arrived with a wrong CRC (spec §10.2)' },
  AGENT_MODBUS_EXCEPTION: { message: 'a Modbus slave answered with an exception (spec §15)' },
  AGENT_MODBUS_LINK_DOWN: { message: 'the link of a Modbus bus is not open, so no request can be sent' },
  AGENT_HEALTH_PORT_FAILED: { message: 'the health and metrics port (health.port) cannot listen' },
  /** What furnace-agent prints for a failure that carries no code of this catalogue. */
  AGENT_START_FAILED: { message: 'an unexpected error stopped the agent' },
  // Commands (cmd/v1/{device}/{command}): the `code` of a reply that is not `ok`.
  AGENT_COMMAND_MALFORMED: { message: 'refused: the request is not JSON of the Command schema (answered only when it names a requestId)' },
  AGENT_COMMAND_UNKNOWN: { message: 'refused: no such command' },
  AGENT_COMMAND_BAD_ARGS: {
    message: 'refused: an argument is missing, of the wrong type, out of its limits, or names no sensor of this agent',
  },
  AGENT_COMMAND_EXPIRED: { message: "refused: it arrived after its deadline (only judged while the agent's clock is synchronised)" },
  AGENT_COMMAND_BUSY: { message: 'refused: too many commands are running at once' },
  AGENT_COMMAND_TIMED_OUT: { message: 'failed: tried, but not done by its deadline (read-now: no reading came in time)' },
  AGENT_COMMAND_FAILED: { message: 'failed: tried, and an unexpected error stopped it (the reason says which)' },
  AGENT_STOPPING: { message: 'failed: the agent stopped while the command ran' },
} as const satisfies Record<string, { message: string }>;
export type AgentErrorCode = keyof typeof AGENT_ERRORS;

export class AgentError extends codedErrorClass<AgentErrorCode>('AgentError', AGENT_ERRORS) {}

/** The code of an error, when it has one (AgentError, a Node system error); for logs and metrics. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
