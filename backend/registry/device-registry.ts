import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { DeviceStatus, SensorInfo, SensorState, SensorsHealth } from '../../contract/index.js';
import { BackendError } from '../errors.js';

// The device registry: what the agents say about themselves on the retained `status` and
// `sensors` topics. It is small metadata, kept in its own SQLite file whatever engine stores the
// readings, so it survives restarts: with a persistent session the broker does not resend
// retained messages the backend already took.

export interface DeviceStatusRecord {
  state: 'online' | 'offline';
  /** When the agent set this status (for a will: when the agent connected), Unix ms. */
  ts: number;
  /** When the backend received it: for an `offline` will, the best guess of when the agent went away. */
  receivedAt: number;
  boot?: string | undefined;
  agentVersion?: string | undefined;
  sensors: SensorInfo[];
}

export interface SensorHealthRecord {
  sensor: string;
  state: SensorState;
  since: number;
  reason?: string | undefined;
}

export interface RegistryEntry {
  device: string;
  status?: DeviceStatusRecord | undefined;
  /** From the latest `sensors` report. */
  sensorHealth: SensorHealthRecord[];
  /** When that report was made, Unix ms. */
  sensorHealthTs?: number | undefined;
}

interface StatusRow {
  device: string;
  state: 'online' | 'offline';
  ts: number;
  received_at: number;
  boot: string | null;
  agent_version: string | null;
  sensors: string;
}

interface HealthRow {
  device: string;
  ts: number;
  sensors: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS device_status (
  device TEXT PRIMARY KEY, state TEXT NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  boot TEXT, agent_version TEXT, sensors TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sensor_health (device TEXT PRIMARY KEY, ts INTEGER NOT NULL, sensors TEXT NOT NULL);`;

export const REGISTRY_FILE = 'registry.sqlite';

export class DeviceRegistry {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    try {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(join(dataDir, REGISTRY_FILE), { timeout: 0 });
      this.db.pragma('journal_mode = WAL');
      this.db.exec(SCHEMA);
    } catch (error) {
      throw new BackendError('BACKEND_REGISTRY_OPEN_FAILED', `cannot open the device registry in ${dataDir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Records a status unless an older one arrives after a newer one (a retained message resent on
   * re-subscription). Equal times apply: an agent's will carries the time it connected, the same
   * as its birth, and comes after it.
   */
  putStatus(status: DeviceStatus, receivedAt: number): void {
    this.db
      .prepare(
        `INSERT INTO device_status (device, state, ts, received_at, boot, agent_version, sensors)
         VALUES (@device, @state, @ts, @receivedAt, @boot, @agentVersion, @sensors)
         ON CONFLICT (device) DO UPDATE SET state = excluded.state, ts = excluded.ts, received_at = excluded.received_at,
           boot = excluded.boot, agent_version = excluded.agent_version, sensors = excluded.sensors
         WHERE excluded.ts >= device_status.ts`,
      )
      .run({
        device: status.device,
        state: status.state,
        ts: status.ts,
        receivedAt,
        boot: status.boot ?? null,
        agentVersion: status.agentVersion ?? null,
        sensors: JSON.stringify(status.sensors ?? []),
      });
  }

  /** An empty retained message: the status was cleared on the broker. */
  forgetStatus(device: string): void {
    this.db.prepare('DELETE FROM device_status WHERE device = ?').run(device);
  }

  putSensorsHealth(health: SensorsHealth): void {
    this.db
      .prepare(
        `INSERT INTO sensor_health (device, ts, sensors) VALUES (?, ?, ?)
         ON CONFLICT (device) DO UPDATE SET ts = excluded.ts, sensors = excluded.sensors WHERE excluded.ts >= sensor_health.ts`,
      )
      .run(health.device, health.ts, JSON.stringify(health.sensors));
  }

  forgetSensorsHealth(device: string): void {
    this.db.prepare('DELETE FROM sensor_health WHERE device = ?').run(device);
  }

  get(device: string): RegistryEntry | undefined {
    const status = this.db.prepare('SELECT * FROM device_status WHERE device = ?').get(device) as StatusRow | undefined;
    const health = this.db.prepare('SELECT * FROM sensor_health WHERE device = ?').get(device) as HealthRow | undefined;
    if (!status && !health) return undefined;
    return entry(device, status, health);
  }

  list(): RegistryEntry[] {
    const statuses = new Map((this.db.prepare('SELECT * FROM device_status').all() as StatusRow[]).map((row) => [row.device, row]));
    const healths = new Map((this.db.prepare('SELECT * FROM sensor_health').all() as HealthRow[]).map((row) => [row.device, row]));
    const devices = [...new Set([...statuses.keys(), ...healths.keys()])].sort();
    return devices.map((device) => entry(device, statuses.get(device), healths.get(device)));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function entry(device: string, status: StatusRow | undefined, health: HealthRow | undefined): RegistryEntry {
  return {
    device,
    status: status && {
      state: status.state,
      ts: status.ts,
      receivedAt: status.received_at,
      boot: status.boot ?? undefined,
      agentVersion: status.agent_version ?? undefined,
      sensors: JSON.parse(status.sensors) as SensorInfo[],
    },
    sensorHealth: health ? (JSON.parse(health.sensors) as SensorHealthRecord[]) : [],
    sensorHealthTs: health?.ts,
  };
}
