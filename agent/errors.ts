/**
 * The agent's error catalogue. Codes are stable: logs, tests and operators match on them.
 * Errors at start-up stop the agent; errors while running are counted, logged and survived.
 */
export type AgentErrorCode =
  /** A setting is wrong in a way the schema cannot say (a sensor on an unknown port, ...). */
  | 'AGENT_CONFIG_INVALID'
  /** A TLS file named in the settings cannot be read. */
  | 'AGENT_TLS_FILE_UNREADABLE'
  | 'AGENT_OUTBOX_OPEN_FAILED'
  /** A reading could not be committed (disk full, I/O error): it is lost, and counted. */
  | 'AGENT_OUTBOX_WRITE_FAILED'
  | 'AGENT_SERIAL_OPEN_FAILED'
  /** USB serial ports cannot be listed (no udevadm), so a port given by USB VID:PID cannot be found. */
  | 'AGENT_SERIAL_LIST_FAILED'
  /** No USB serial port with the configured VID:PID is plugged in (yet). */
  | 'AGENT_SERIAL_NOT_FOUND'
  | 'AGENT_TCP_CONNECT_FAILED'
  /** A Modbus slave did not answer in time (spec §16: the master times out). */
  | 'AGENT_MODBUS_TIMEOUT'
  /** A Modbus answer arrived with a wrong CRC (spec §10.2). */
  | 'AGENT_MODBUS_CRC'
  /** A Modbus slave answered with an exception (spec §15). */
  | 'AGENT_MODBUS_EXCEPTION'
  /** The link of a Modbus bus is not open, so no request can be sent. */
  | 'AGENT_MODBUS_LINK_DOWN'
  | 'AGENT_HEALTH_PORT_FAILED'
  // Commands (cmd/v1/{device}/{command}): the `code` of a reply that is not `ok`.
  /** Refused: the request is not JSON of the Command schema (answered only when it names a requestId). */
  | 'AGENT_COMMAND_MALFORMED'
  /** Refused: no such command. */
  | 'AGENT_COMMAND_UNKNOWN'
  /** Refused: an argument is missing, of the wrong type, out of its limits, or names no sensor of this agent. */
  | 'AGENT_COMMAND_BAD_ARGS'
  /** Refused: it arrived after its deadline (only judged while the agent's clock is synchronised). */
  | 'AGENT_COMMAND_EXPIRED'
  /** Refused: too many commands are running at once. */
  | 'AGENT_COMMAND_BUSY'
  /** Failed: tried, but not done by its deadline (read-now: no reading came in time). */
  | 'AGENT_COMMAND_TIMED_OUT'
  /** Failed: tried, and an unexpected error stopped it (the reason says which). */
  | 'AGENT_COMMAND_FAILED'
  /** Failed: the agent stopped while the command ran. */
  | 'AGENT_STOPPING';

export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AgentError';
  }
}

/** The code of an error, when it has one (AgentError, a Node system error); for logs and metrics. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
