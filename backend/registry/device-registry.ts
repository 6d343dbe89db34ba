import type Database from 'better-sqlite3';
import type { DeviceStatus, SensorInfo, SensorState, SensorsHealth } from '../../contract/index.js';
import { BackendError } from '../errors.js';
import { cachedStatement, openSqliteIn } from '../store/sqlite-file.js';
import { type StatusMark, judgeStatus, markAfter } from './status-order.js';

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
  floor_ts: number | null;
}

interface HealthRow {
  device: string;
  ts: number;
  sensors: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS device_status (
  device TEXT PRIMARY KEY, state TEXT NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  boot TEXT, agent_version TEXT, sensors TEXT NOT NULL, floor_ts INTEGER
);
CREATE TABLE IF NOT EXISTS sensor_health (device TEXT PRIMARY KEY, ts INTEGER NOT NULL, sensors TEXT NOT NULL);`;

export const REGISTRY_FILE = 'registry.sqlite';

export class DeviceRegistry {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    try {
      // Durability normal: a status lost to a power cut is sent again, retained, at the next connection.
      this.db = openSqliteIn(dataDir, REGISTRY_FILE, { durability: 'normal', migrations: [SCHEMA, addFloorColumn] });
    } catch (error) {
      throw new BackendError('BACKEND_REGISTRY_OPEN_FAILED', `cannot open the device registry in ${dataDir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Records a status unless it is stale (status-order.ts): a retained message of an old boot
   * resent after the new boot's birth, or the will of an earlier connection of this boot. The
   * will of the current connection wins although its time (when the agent connected) is older
   * than the birth's. A repeat of the status held changes nothing, not even `receivedAt`, which
   * for a will is the best guess of when the agent went away. Returns whether it was recorded.
   */
  putStatus(status: DeviceStatus, receivedAt: number): boolean {
    return this.db.transaction(() => {
      const row = this.statement('SELECT state, ts, boot, floor_ts FROM device_status WHERE device = ?').get(status.device) as
        Pick<StatusRow, 'state' | 'ts' | 'boot' | 'floor_ts'> | undefined;
      const current: StatusMark | undefined = row && {
        state: row.state,
        ts: row.ts,
        boot: row.boot ?? undefined,
        floor: row.floor_ts ?? undefined,
      };
      if (judgeStatus(current, status) !== 'newer') return false;
      const mark = markAfter(current, status);
      const upsert = this.statement(
        `INSERT INTO device_status (device, state, ts, received_at, boot, agent_version, sensors, floor_ts)
         VALUES (@device, @state, @ts, @receivedAt, @boot, @agentVersion, @sensors, @floor)
         ON CONFLICT (device) DO UPDATE SET state = excluded.state, ts = excluded.ts, received_at = excluded.received_at,
           boot = excluded.boot, agent_version = excluded.agent_version, sensors = excluded.sensors, floor_ts = excluded.floor_ts`,
      );
      upsert.run({
        device: status.device,
        state: status.state,
        ts: status.ts,
        receivedAt,
        boot: status.boot ?? null,
        agentVersion: status.agentVersion ?? null,
        sensors: JSON.stringify(status.sensors ?? []),
        floor: mark.floor ?? null,
      });
      return true;
    })();
  }

  /** An empty retained message: the status was cleared on the broker. */
  forgetStatus(device: string): void {
    this.statement('DELETE FROM device_status WHERE device = ?').run(device);
  }

  putSensorsHealth(health: SensorsHealth): void {
    const upsert = this.statement(
      `INSERT INTO sensor_health (device, ts, sensors) VALUES (?, ?, ?)
       ON CONFLICT (device) DO UPDATE SET ts = excluded.ts, sensors = excluded.sensors WHERE excluded.ts >= sensor_health.ts`,
    );
    upsert.run(health.device, health.ts, JSON.stringify(health.sensors));
  }

  forgetSensorsHealth(device: string): void {
    this.statement('DELETE FROM sensor_health WHERE device = ?').run(device);
  }

  get(device: string): RegistryEntry | undefined {
    const status = this.statement('SELECT * FROM device_status WHERE device = ?').get(device) as StatusRow | undefined;
    const health = this.statement('SELECT * FROM sensor_health WHERE device = ?').get(device) as HealthRow | undefined;
    if (!status && !health) return undefined;
    return entry(device, status, health);
  }

  list(): RegistryEntry[] {
    const statuses = new Map((this.statement('SELECT * FROM device_status').all() as StatusRow[]).map((row) => [row.device, row]));
    const healths = new Map((this.statement('SELECT * FROM sensor_health').all() as HealthRow[]).map((row) => [row.device, row]));
    const devices = [...new Set([...statuses.keys(), ...healths.keys()])].sort();
    return devices.map((device) => entry(device, statuses.get(device), healths.get(device)));
  }

  /** Prepared once per connection (sqlite-file.ts): preparing costs more than running. */
  private statement(sql: string): Database.Statement {
    return cachedStatement(this.db, sql);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Registries written before the status order knew about boots lack the column; NULL reads as "no floor".
 * Registries from before user_version have the tables of SCHEMA (IF NOT EXISTS), with or without it.
 */
function addFloorColumn(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(device_status)').all() as Array<{ name: string }>;
  if (!columns.some((column) => column.name === 'floor_ts')) db.exec('ALTER TABLE device_status ADD COLUMN floor_ts INTEGER');
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
