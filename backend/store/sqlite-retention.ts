import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import type { RetentionPolicy, RetentionResult } from './reading-store.js';

const DAY_MS = 24 * 3600 * 1000;
/** Rows deleted per transaction: small enough that ingest, on the same thread, waits a few ms at most. */
const CHUNK = 5000;

/**
 * Deletes what is past retention, per device (raw readings) and per (device, sensor) (rollups) so
 * every delete seeks an index, in chunks with a turn of the event loop between them: retention
 * must never hold up ingest or the API.
 */
export class SqliteRetention {
  private readonly devices: Database.Statement;
  private readonly sensors: Database.Statement;
  private readonly deleteRaw: Database.Statement;
  private readonly lowerCount: Database.Statement;
  private readonly deleteRollup: Record<'rollup_1m' | 'rollup_1h', Database.Statement>;
  private readonly deleteRanges: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly policy: RetentionPolicy,
  ) {
    this.devices = db.prepare('SELECT id, name FROM device_names');
    this.sensors = db.prepare('SELECT device, sensor FROM latest');
    // SQLITE_ENABLE_UPDATE_DELETE_LIMIT is set in better-sqlite3's build, so DELETE takes a LIMIT.
    // reading_rows is keyed (device_id, ts, ...): what is past retention is the head of each device's range.
    this.deleteRaw = db.prepare('DELETE FROM reading_rows WHERE device_id = ? AND ts < ? LIMIT ?');
    this.lowerCount = db.prepare('UPDATE devices SET readings = max(0, readings - ?) WHERE device = ?');
    const rollupDelete = (table: string) => db.prepare(`DELETE FROM ${table} WHERE device = ? AND sensor = ? AND bucket < ? LIMIT ?`);
    this.deleteRollup = { rollup_1m: rollupDelete('rollup_1m'), rollup_1h: rollupDelete('rollup_1h') };
    // Gaps older than the raw readings around them are history nobody can act on any more.
    this.deleteRanges = db.prepare('DELETE FROM seq_ranges WHERE last_ts < ?');
  }

  async apply(now: number, signal?: AbortSignal): Promise<RetentionResult> {
    const result: RetentionResult = { rawReadings: 0, minuteRollups: 0, hourRollups: 0 };
    const rawCutoff = now - this.policy.rawRetentionDays * DAY_MS;
    const minuteCutoff = now - this.policy.minuteRollupRetentionDays * DAY_MS;
    const hourCutoff = this.policy.hourRollupRetentionDays === 0 ? undefined : now - this.policy.hourRollupRetentionDays * DAY_MS;
    for (const { id, name } of this.devices.all() as Array<{ id: number; name: string }>) {
      if (signal?.aborted) break;
      result.rawReadings += await this.chunked(signal, (limit) => {
        const deleted = this.deleteRaw.run(id, rawCutoff, limit).changes;
        this.lowerCount.run(deleted, name);
        return deleted;
      });
    }
    const pairs = this.sensors.all() as Array<{ device: string; sensor: string }>;
    for (const { device, sensor } of pairs) {
      if (signal?.aborted) break;
      result.minuteRollups += await this.chunked(
        signal,
        (limit) => this.deleteRollup.rollup_1m.run(device, sensor, minuteCutoff, limit).changes,
      );
      if (hourCutoff !== undefined) {
        result.hourRollups += await this.chunked(
          signal,
          (limit) => this.deleteRollup.rollup_1h.run(device, sensor, hourCutoff, limit).changes,
        );
      }
    }
    this.deleteRanges.run(rawCutoff);
    return result;
  }

  private async chunked(signal: AbortSignal | undefined, step: (limit: number) => number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = this.db.transaction(() => step(CHUNK))();
      total += deleted;
      if (deleted < CHUNK || signal?.aborted) return total;
      await nextTurn();
    }
  }
}
