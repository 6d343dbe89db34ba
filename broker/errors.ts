export type BrokerErrorCode = 'BROKER_PORT_IN_USE' | 'BROKER_LISTEN_FAILED';

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
