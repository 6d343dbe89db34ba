import type { DeviceStatus, ReadingBatch, SensorsHealth } from '../../contract/index.js';

/** One readings message as ingest received it. */
export interface ReceivedReadings {
  batch: ReadingBatch;
  receivedAt: number;
}

/**
 * What else must see each message before it is acknowledged (the alert engine). Each call is
 * retried until it succeeds, like a registry write, so a reading the broker has been told is
 * safe has also been evaluated. Readings are handed over on arrival, beside their write rather
 * than after it: a slow or failing store does not hold up alerting (until the readings waiting
 * for it reach ingest.maxPendingReadings and no more are taken from the broker).
 */
export interface IngestObserver {
  readings(batch: ReadingBatch, receivedAt: number): void;
  /**
   * The readings messages of one event-loop turn, in arrival order, judged together (judge-queue.ts).
   * It throws only what retrying can cure, and then none of the messages counts as judged.
   */
  readingsMany?(messages: readonly ReceivedReadings[]): void;
  status(status: DeviceStatus, receivedAt: number): void;
  /** An empty retained status: the device's status is gone. */
  statusCleared(device: string, receivedAt: number): void;
  sensors(health: SensorsHealth, receivedAt: number): void;
}
