/**
 * Stable codes of a failed delivery attempt. The dispatcher retries every one of them until the
 * channel's deadline; the code says why in logs and in `alert_outbox.last_error`.
 */
export type DeliveryErrorCode =
  | 'ALERT_DELIVERY_MQTT_OFFLINE'
  | 'ALERT_DELIVERY_MQTT_TIMEOUT'
  | 'ALERT_DELIVERY_MQTT_FAILED'
  | 'ALERT_DELIVERY_HTTP_STATUS'
  | 'ALERT_DELIVERY_HTTP_TIMEOUT'
  | 'ALERT_DELIVERY_HTTP_FAILED'
  | 'ALERT_DELIVERY_CLOSED';

export class DeliveryError extends Error {
  constructor(
    readonly code: DeliveryErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

/** One line for logs and `last_error`: the code when there is one, and the message. */
export function describeError(error: unknown): string {
  if (error instanceof DeliveryError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
