// The backend's one MQTT session. Ingest reads telemetry and command replies on it; commands and
// alerts publish on it. It is persistent (fixed client id, clean session off, QoS 1 subscriptions):
// the broker keeps what arrives while the backend is away. Made before the parts that use it, so
// each part is built once, in dependency order, and none needs a reference to one built later.
import mqtt, { type MqttClient } from 'mqtt';
import type { BackendConfig } from '../config.js';

/** Starts connecting; a message can arrive only after ingest subscribes, on the `connect` event. */
export function connectSession(settings: BackendConfig['mqtt']): MqttClient {
  return mqtt.connect(settings.url, {
    clientId: settings.clientId,
    clean: false,
    protocolVersion: 4,
    username: settings.username,
    password: settings.password,
    keepalive: settings.keepaliveSeconds,
    reconnectPeriod: 1000,
  });
}
