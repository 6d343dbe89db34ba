export type AgentErrorCode =
  | 'AGENT_CONFIG_INVALID'
  | 'AGENT_OUTBOX_OPEN_FAILED'
  | 'AGENT_SERIAL_OPEN_FAILED'
  | 'AGENT_HEALTH_PORT_FAILED';

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
