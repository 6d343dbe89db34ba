import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CONTRACT_VERSION, type DeviceStatus, type SensorInfo, encodePayload, topics } from '../../contract/index.js';
import type { SensorHealthBoard } from '../readings/sensor-health.js';
import type { SensorPlan } from '../sensor-plan.js';

export interface PresenceOptions {
  device: string;
  boot: string;
  agentVersion: string;
  sensors: readonly SensorPlan[];
  board: SensorHealthBoard;
  log: Logger;
}

/** The sensors as the birth message describes them: id, unit and the range where one is known. */
export function sensorInfo(sensors: readonly SensorPlan[]): SensorInfo[] {
  return sensors.map(({ id, unit, range }) => ({
    id,
    unit,
    ...(range?.min === undefined ? {} : { min: range.min }),
    ...(range?.max === undefined ? {} : { max: range.max }),
  }));
}

/**
 * What the agent says about itself, retained, so that whoever subscribes later learns it at
 * once: `telemetry/v1/{device}/status` (the `online` birth with version, sensors, units and
 * ranges; the broker publishes the `offline` will if the agent vanishes) and
 * `telemetry/v1/{device}/sensors` (each sensor's state), sent again whenever a state changes.
 */
export class Presence {
  private client: MqttClient | undefined;

  constructor(private readonly options: PresenceOptions) {}

  status(state: DeviceStatus['state'], ts = Date.now()): Buffer {
    const { device, boot, agentVersion, sensors } = this.options;
    return encodePayload<DeviceStatus>({ v: CONTRACT_VERSION, device, state, ts, boot, agentVersion, sensors: sensorInfo(sensors) });
  }

  /** Publishes birth and sensor states on every connection of `client`. */
  attach(client: MqttClient): void {
    this.client = client;
    client.on('connect', () => {
      this.publish(topics.status(this.options.device), this.status('online'));
      this.sensorsChanged();
    });
  }

  /** A sensor's state changed: publish them all (retained: the topic holds the whole picture). */
  sensorsChanged(): void {
    if (this.client?.connected) this.publish(topics.sensors(this.options.device), encodePayload(this.options.board.payload()));
  }

  /** Publishes birth and sensor states again (the announce command); resolves once the broker took both. */
  async announce(): Promise<void> {
    const { client } = this;
    if (!client) throw new Error('presence is not attached to a client');
    const options = { qos: 1, retain: true } as const;
    await Promise.all([
      client.publishAsync(topics.status(this.options.device), this.status('online'), options),
      client.publishAsync(topics.sensors(this.options.device), encodePayload(this.options.board.payload()), options),
    ]);
  }

  /** The clean goodbye: the retained status becomes `offline` (the will is only for unclean ends). */
  async goodbye(): Promise<void> {
    if (!this.client?.connected) return;
    await this.client.publishAsync(topics.status(this.options.device), this.status('offline'), { qos: 1, retain: true });
  }

  private publish(topic: string, payload: Buffer): void {
    this.client?.publish(topic, payload, { qos: 1, retain: true }, (error) => {
      if (error) this.options.log.debug({ err: error, topic }, 'retained message not acknowledged; sent again at the next connection');
    });
  }
}
