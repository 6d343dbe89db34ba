import type { Reading, ReadingBatch } from '../../contract/index.js';

export interface StoredReading extends Reading {
  device: string;
  boot: string;
  /** When the backend stored it, Unix ms. */
  receivedAt: number;
}

export interface DeviceSummary {
  device: string;
  firstSeen: number;
  lastSeen: number;
  /** Readings stored for this device. */
  readings: number;
}

export interface InsertResult {
  inserted: number;
  /** Already stored under the same (device, boot, seq): a QoS 1 redelivery or an outbox replay. */
  duplicates: number;
}

/**
 * Where readings live. One interface, several engines (SQLite now, InfluxDB later), all
 * passing the same contract tests. Asynchronous, because not every engine is in-process.
 */
export interface ReadingStore {
  /** Stores a batch atomically: once this resolves, every reading of it is committed. */
  insertBatch(batch: ReadingBatch, receivedAt: number): Promise<InsertResult>;
  listDevices(): Promise<DeviceSummary[]>;
  /** The newest reading (by source time) of each sensor of a device; empty for an unknown device. */
  latest(device: string): Promise<StoredReading[]>;
  /** Readings of a device in seq order, oldest first. */
  readings(device: string, options?: { limit?: number }): Promise<StoredReading[]>;
  /** Whether a write would succeed now (for readiness). */
  writable(): Promise<boolean>;
  close(): Promise<void>;
}
