// The backend's one MQTT session. Ingest reads telemetry and command replies on it; commands and
// alerts publish on it. It is persistent (fixed client id, clean session off, QoS 1 subscriptions):
// the broker keeps what arrives while the backend is away. Made before the parts that use it, so
// each part is built once, in dependency order, and none needs a reference to one built later.
// It does not connect when made: a persistent session gets its queued messages right after the
// CONNACK, before any SUBSCRIBE, so ingest's handlers must be on first (Ingest.start() connects).
import mqtt, { type MqttClient } from 'mqtt';
import type { BackendConfig } from '../config.js';

/** The session's client, not connected yet. */
export function createSession(settings: BackendConfig['mqtt']): MqttClient {
  return mqtt.connect(settings.url, {
    clientId: settings.clientId,
    clean: false,
    protocolVersion: 4,
    username: settings.username,
    password: settings.password,
    keepalive: settings.keepaliveSeconds,
    reconnectPeriod: 1000,
    manualConnect: true,
  });
}
