import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelay } from '../../contract/backoff.js';
import type { AgentConfig } from '../config-schema.js';
import { AgentError } from '../errors.js';

export interface MqttConnectionOptions {
  settings: AgentConfig['mqtt'];
  /** From `readTlsFiles`: read before anything else starts, so a bad path stops start-up cleanly. */
  tls: Partial<IClientOptions>;
  device: string;
  /** The retained last will (`offline`), made again for each connection attempt. */
  will: () => Buffer;
  willTopic: string;
  log: Logger;
}

export interface MqttConnection {
  readonly client: MqttClient;
  /** Successful connections after the first. */
  readonly reconnects: number;
  /** Ends the connection; `force` does not wait for the broker (it may be gone). */
  end(force: boolean): Promise<void>;
}

/** Reads the TLS files named in the settings; an unreadable one stops start-up, naming the setting. */
export function readTlsFiles(tls: AgentConfig['mqtt']['tls']): Partial<IClientOptions> {
  const read = (key: 'ca' | 'cert' | 'key') => {
    const file = tls[key];
    if (file === undefined) return {};
    try {
      return { [key]: readFileSync(file) };
    } catch (error) {
      throw new AgentError('AGENT_TLS_FILE_UNREADABLE', `mqtt.tls.${key} = ${JSON.stringify(file)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  return { ...read('ca'), ...read('cert'), ...read('key'), rejectUnauthorized: tls.rejectUnauthorized };
}

/**
 * The agent's connection to the broker (MQTT 3.1.1, which every broker speaks), with the
 * retained `offline` will, credentials and TLS, and reconnection with exponential backoff and
 * jitter. MQTT.js only retries at a fixed period (mqttjs/MQTT.js#561), so its own reconnect is
 * off (`reconnectPeriod: 0`) and this schedules `client.connect()` itself after each close; the
 * client object, and with it the QoS 1 messages waiting for their PUBACK, lives on across
 * connections, and MQTT.js sends those again once connected.
 */
export function connectMqtt({ settings, tls, device, will, willTopic, log }: MqttConnectionOptions): MqttConnection {
  const makeWill = () => ({ topic: willTopic, payload: will(), qos: 1 as const, retain: true });
  const client = mqtt.connect(settings.url, {
    // furnace-broker takes a device's client id only if it equals its user name (the device id).
    clientId: settings.clientId ?? settings.username ?? `furnace-agent-${device}`,
    username: settings.username,
    password: settings.password,
    protocolVersion: 4,
    keepalive: settings.keepaliveSeconds,
    connectTimeout: settings.connectTimeoutMs,
    reconnectPeriod: 0,
    will: makeWill(),
    ...tls,
  });
  let failures = 0;
  let reconnects = 0;
  let everConnected = false;
  let ending = false;
  let timer: NodeJS.Timeout | undefined;
  let lastError: Error | undefined;

  client.on('connect', () => {
    // Nagle's algorithm holds a small write (a reply right after a PUBACK) until the broker ACKs the
    // previous one, which a delayed ACK makes 40 ms: measured as the whole of a command's round trip.
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    if (everConnected) reconnects++;
    log.info({ url: settings.url, failures }, everConnected ? 'reconnected to broker' : 'connected to broker');
    everConnected = true;
    failures = 0;
    lastError = undefined;
  });
  client.on('error', (error) => {
    lastError = error;
  });
  client.on('close', () => {
    if (ending || timer) return;
    failures++;
    const delay = backoffDelay(failures, {
      minMs: settings.reconnectMinMs,
      maxMs: settings.reconnectMaxMs,
      jitter: { below: 0.2, above: 0.2 },
    });
    const fields = { url: settings.url, reason: lastError?.message ?? 'connection closed', retryInMs: delay, failures };
    // Loud once per outage, quiet while it lasts: an outage of hours must not fill the SD card.
    if (failures === 1) log.warn(fields, 'broker unreachable; readings wait in the outbox');
    else log.debug(fields, 'broker still unreachable');
    timer = setTimeout(() => {
      timer = undefined;
      if (ending) return;
      // The will carries when this connection was made (contract: "for a will: when it connected").
      client.options.will = makeWill();
      client.connect();
    }, delay);
  });

  return {
    client,
    get reconnects() {
      return reconnects;
    },
    end(force) {
      ending = true;
      clearTimeout(timer);
      return new Promise<void>((resolve) => client.end(force, {}, () => resolve()));
    },
  };
}
