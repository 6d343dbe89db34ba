// Durable, per-channel delivery of alert items (MQTT, webhooks): the public surface.
export { AlertDelivery, type AlertDeliveryOptions } from './alert-delivery.js';
export { type DeliveryChannel, itemLabel } from './channel.js';
export { Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { DeliveryError, type DeliveryErrorCode } from './errors.js';
export { MQTT_CHANNEL, MqttAlertChannel, type MqttAlertChannelOptions } from './mqtt-channel.js';
export { ChannelOutbox, type OutboxRow } from './outbox.js';
export { sign, verify, type VerifyOptions } from './signature.js';
export { WebhookChannel, type WebhookChannelOptions, type WebhookSettings, webhookChannelName } from './webhook-channel.js';
