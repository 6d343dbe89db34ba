import type Database from 'better-sqlite3';
import { BackendError } from '../../errors.js';
import { openSqliteIn } from '../../store/sqlite-file.js';

// The alert engine's SQLite file, apart from the readings (whatever engine stores those): the
// state of every (rule, device, sensor), the alert log, silences and the delivery outboxes. One
// file, so a transition, its log entry and its outbox rows commit in one transaction.
//
//   alert_instances  one row per (rule, device, sensor); `state` is the evaluator's AlertInstance as JSON;
//                    `episode_id` the event that began the current pending/firing episode; the ack of it (who, when, comment)
//   alert_events     the alert log, in order: seq is the SSE event id and the history cursor
//   silences         matchers (globs) with a time window
//   alert_seen       the readings already judged (engine/seen-readings.ts), so a redelivered batch fires nothing twice
//   alert_outbox     one queue per channel (`mqtt`, `webhook:<name>`): what is still to deliver, and
//                    what failed for good (state = 'failed')

const VERSION_1 = `
CREATE TABLE alert_instances (
  key TEXT PRIMARY KEY, rule TEXT NOT NULL, device TEXT NOT NULL, sensor TEXT,
  state TEXT NOT NULL, episode_id TEXT, acked_by TEXT, acked_at INTEGER
);
CREATE INDEX alert_instances_by_episode ON alert_instances (episode_id);
CREATE TABLE alert_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
  device TEXT NOT NULL, rule TEXT NOT NULL, sensor TEXT, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
  ts INTEGER NOT NULL, severity TEXT NOT NULL, silenced INTEGER NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX alert_events_by_ts ON alert_events (ts);
CREATE INDEX alert_events_by_device ON alert_events (device, ts);
CREATE TABLE silences (
  id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,
  created_by TEXT NOT NULL, comment TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE alert_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, item TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  enqueued_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, last_error TEXT
);
CREATE INDEX alert_outbox_by_channel ON alert_outbox (channel, state, id);`;

// Version 2: the readings alerting has judged, as runs of seq per (device, boot) (engine/seen-readings.ts).
const VERSION_2 = `
CREATE TABLE alert_seen (
  device TEXT NOT NULL, boot TEXT NOT NULL, runs TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (device, boot)
) WITHOUT ROWID;`;

// Version 3: the comment given with an acknowledgement, shown beside who and when.
const VERSION_3 = 'ALTER TABLE alert_instances ADD COLUMN acked_comment TEXT;';

const MIGRATIONS: readonly string[] = [VERSION_1, VERSION_2, VERSION_3];

export const ALERTS_FILE = 'alerts.sqlite';

/** Opens (and creates or upgrades) the alert database in `dataDir`. */
export function openAlertDb(dataDir: string): Database.Database {
  try {
    // Busy timeout 0, as every backend file (sqlite-file.ts): evaluation runs on the ingest path, and a
    // wait for a lock there would hold the event loop. Durability normal: a crashed process loses nothing
    // committed, a power cut may lose the last commits but never corrupts the file; FULL would cost an
    // fsync per evaluation batch.
    return openSqliteIn(dataDir, ALERTS_FILE, { durability: 'normal', migrations: MIGRATIONS });
  } catch (error) {
    throw new BackendError('BACKEND_ALERTS_OPEN_FAILED', `cannot open the alert store in ${dataDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
