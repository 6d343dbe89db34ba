import type Database from 'better-sqlite3';
import type { Reading } from '../../../contract/index.js';

// Which readings the alert engine has already judged, as runs of seq per (device, boot). The
// broker resends every message the backend has not acknowledged (after a crash, a broker
// restart, a dropped connection); the reading store drops such duplicates, and so must alerting,
// or an old value would be judged again and fire an alert a second time. Seq alone is not enough
// (an agent replays its backlog, lower seq, beside live readings), hence runs, not a high-water mark.

type Runs = Array<[first: number, last: number]>;

/** A change to one (device, boot)'s runs: written inside the evaluation's transaction, kept in memory after it commits. */
export interface SeenUpdate {
  key: string;
  device: string;
  boot: string;
  runs: Runs;
}

/** Past this many runs (holes) for one boot, the oldest are forgotten: those seq are too old to come again. */
const MAX_RUNS = 1000;
/** Boots kept per device; an agent restart starts a new boot and the old one's duplicates stop coming. */
const MAX_BOOTS = 4;

function contains(runs: Runs, seq: number): boolean {
  let low = 0;
  let high = runs.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = runs[middle] as [number, number];
    if (seq < first) high = middle - 1;
    else if (seq > last) low = middle + 1;
    else return true;
  }
  return false;
}

function merge(runs: Runs, seqs: readonly number[]): Runs {
  const all: Runs = [...runs, ...seqs.map((seq): [number, number] => [seq, seq])].sort((a, b) => a[0] - b[0]);
  const merged: Runs = [];
  for (const [first, last] of all) {
    const previous = merged[merged.length - 1];
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else merged.push([first, last]);
  }
  return merged.slice(-MAX_RUNS);
}

export class SeenReadings {
  private readonly runs = new Map<string, Runs>();
  private readonly write: Database.Statement;
  private readonly prune: Database.Statement;

  constructor(db: Database.Database) {
    const rows = db.prepare('SELECT device, boot, runs FROM alert_seen').all() as Array<{ device: string; boot: string; runs: string }>;
    for (const row of rows) {
      try {
        this.runs.set(`${row.device}/${row.boot}`, JSON.parse(row.runs) as Runs);
      } catch {
        // A damaged row forgets that boot's duplicates: at worst some old readings are judged again.
      }
    }
    this.write = db.prepare(
      `INSERT INTO alert_seen (device, boot, runs, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (device, boot) DO UPDATE SET runs = excluded.runs, updated_at = excluded.updated_at`,
    );
    this.prune = db.prepare(
      `DELETE FROM alert_seen WHERE device = ? AND boot NOT IN (SELECT boot FROM alert_seen WHERE device = ? ORDER BY updated_at DESC LIMIT ${MAX_BOOTS})`,
    );
  }

  /**
   * The readings not judged before, once each, in their order. `staged`: updates of earlier
   * messages judged in the same transaction, not applied yet (they are only once it commits).
   */
  fresh(device: string, boot: string, readings: readonly Reading[], staged?: ReadonlyMap<string, SeenUpdate>): Reading[] {
    const key = `${device}/${boot}`;
    const runs = staged?.get(key)?.runs ?? this.runs.get(key) ?? [];
    const inBatch = new Set<number>();
    return readings.filter((reading) => {
      if (inBatch.has(reading.seq) || contains(runs, reading.seq)) return false;
      inBatch.add(reading.seq);
      return true;
    });
  }

  update(device: string, boot: string, readings: readonly Reading[], staged?: ReadonlyMap<string, SeenUpdate>): SeenUpdate {
    const key = `${device}/${boot}`;
    const runs = staged?.get(key)?.runs ?? this.runs.get(key) ?? [];
    return {
      key,
      device,
      boot,
      runs: merge(
        runs,
        readings.map((reading) => reading.seq),
      ),
    };
  }

  /** Inside the caller's transaction. */
  persist(update: SeenUpdate, now: number): void {
    this.write.run(update.device, update.boot, JSON.stringify(update.runs), now);
    // Only a new boot can push a device past MAX_BOOTS: the prune stays off the per-batch path.
    if (!this.runs.has(update.key)) this.prune.run(update.device, update.device);
  }

  /** After the transaction committed. */
  apply(update: SeenUpdate): void {
    this.runs.set(update.key, update.runs);
    if (this.runs.size > 10_000) this.runs.delete(this.runs.keys().next().value as string);
  }
}
