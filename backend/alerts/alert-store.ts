import type Database from 'better-sqlite3';
import type { AlertTransition } from '../../contract/index.js';
import { type AlertInstance, instanceKey } from './alert-state.js';
import type { AlertEventRecord, ChannelItem, HistoryQuery, Silence, SilenceMatchers } from './types.js';

// The alert engine's persistence over alerts.sqlite (alert-db.ts): instance states, the alert log,
// silences and the outbox rows. Synchronous (better-sqlite3): the engine commits a whole
// evaluation in one transaction, so a state, its events and their deliveries never part.

/** An instance as stored: the evaluator's state plus the episode it is in and that episode's ack. */
export interface StoredInstance {
  instance: AlertInstance;
  /** The transition that began the current pending/firing episode. */
  episodeId?: string | undefined;
  ack?: { by: string; at: number } | undefined;
}

/** One evaluation's worth of changes, committed all or nothing. */
export interface AlertCommit {
  upsert: readonly StoredInstance[];
  /** Instance keys (instanceKey()). */
  remove: readonly string[];
  events: ReadonlyArray<{ event: AlertTransition; silenced: boolean }>;
  outbox: ReadonlyArray<{ channel: string; item: ChannelItem }>;
  now: number;
}

/** Expired silences are kept this long, so `?expired=true` still shows last week's maintenance. */
export const SILENCE_KEEP_MS = 7 * 24 * 3600_000;

interface InstanceRow {
  state: string;
  episode_id: string | null;
  acked_by: string | null;
  acked_at: number | null;
}
interface EventRow {
  seq: number;
  payload: string;
  silenced: number;
}
interface SilenceRow {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
  created_at: number;
}

const EVENT_COLUMNS = 'seq, payload, silenced';

const toRecord = (row: EventRow): AlertEventRecord => ({
  seq: row.seq,
  event: JSON.parse(row.payload) as AlertTransition,
  silenced: row.silenced === 1,
});

const toSilence = (row: SilenceRow): Silence => ({
  id: row.id,
  matchers: JSON.parse(row.matchers) as SilenceMatchers,
  startsAt: row.starts_at,
  endsAt: row.ends_at,
  createdBy: row.created_by,
  comment: row.comment,
  createdAt: row.created_at,
});

export class AlertStore {
  private readonly sql;
  /** History queries come in a handful of shapes (which filters are set): one statement per shape. */
  private readonly historySql = new Map<string, Database.Statement>();
  private readonly commitTx: (change: AlertCommit) => AlertEventRecord[];

  constructor(private readonly db: Database.Database) {
    this.sql = {
      instances: db.prepare<[], InstanceRow>('SELECT state, episode_id, acked_by, acked_at FROM alert_instances'),
      upsert: db.prepare(
        `INSERT INTO alert_instances (key, rule, device, sensor, state, episode_id, acked_by, acked_at)
         VALUES (@key, @rule, @device, @sensor, @state, @episodeId, @ackedBy, @ackedAt)
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, episode_id = excluded.episode_id,
           acked_by = excluded.acked_by, acked_at = excluded.acked_at`,
      ),
      remove: db.prepare('DELETE FROM alert_instances WHERE key = ?'),
      event: db.prepare(
        `INSERT INTO alert_events (id, device, rule, sensor, from_state, to_state, ts, severity, silenced, payload)
         VALUES (@id, @device, @rule, @sensor, @from, @to, @ts, @severity, @silenced, @payload)`,
      ),
      outbox: db.prepare('INSERT INTO alert_outbox (channel, item, enqueued_at, next_attempt_at) VALUES (?, ?, ?, ?)'),
      after: db.prepare<[number, number], EventRow>(`SELECT ${EVENT_COLUMNS} FROM alert_events WHERE seq > ? ORDER BY seq LIMIT ?`),
      lastSeq: db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM alert_events').pluck(),
      lastEvent: db.prepare<[string, string, string | null], EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM alert_events WHERE device = ? AND rule = ? AND sensor IS ? ORDER BY seq DESC LIMIT 1`,
      ),
      notified: db
        .prepare<[string, string], number>(
          `SELECT 1 FROM alert_events WHERE device = ? AND rule = ? AND to_state IN ('firing', 'resolved') LIMIT 1`,
        )
        .pluck(),
      ack: db.prepare('UPDATE alert_instances SET acked_by = ?, acked_at = ? WHERE episode_id = ?'),
      addSilence: db.prepare(
        `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at)
         VALUES (@id, @matchers, @startsAt, @endsAt, @createdBy, @comment, @createdAt)`,
      ),
      pruneSilences: db.prepare('DELETE FROM silences WHERE ends_at < ?'),
      silences: db.prepare<[], SilenceRow>('SELECT * FROM silences ORDER BY starts_at, id'),
      liveSilences: db.prepare<[number], SilenceRow>('SELECT * FROM silences WHERE ends_at > ? ORDER BY starts_at, id'),
      activeSilences: db.prepare<[number, number], SilenceRow>('SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ?'),
      removeSilence: db.prepare('DELETE FROM silences WHERE id = ?'),
    };
    this.commitTx = db.transaction((change: AlertCommit) => this.write(change));
  }

  loadInstances(): StoredInstance[] {
    return this.sql.instances.all().map((row) => ({
      instance: JSON.parse(row.state) as AlertInstance,
      ...(row.episode_id === null ? {} : { episodeId: row.episode_id }),
      ...(row.acked_by === null || row.acked_at === null ? {} : { ack: { by: row.acked_by, at: row.acked_at } }),
    }));
  }

  /** Writes one evaluation in one transaction; returns the events with their place in the log. */
  commit(change: AlertCommit): AlertEventRecord[] {
    return this.commitTx(change);
  }

  private write(change: AlertCommit): AlertEventRecord[] {
    for (const { instance, episodeId, ack } of change.upsert) {
      this.sql.upsert.run({
        key: instanceKey(instance.rule, instance.device, instance.sensor),
        rule: instance.rule,
        device: instance.device,
        sensor: instance.sensor ?? null,
        state: JSON.stringify(instance),
        episodeId: episodeId ?? null,
        ackedBy: ack?.by ?? null,
        ackedAt: ack?.at ?? null,
      });
    }
    for (const key of change.remove) this.sql.remove.run(key);
    const records: AlertEventRecord[] = [];
    const seqOf = new Map<string, number>();
    for (const { event, silenced } of change.events) {
      const { lastInsertRowid } = this.sql.event.run({
        id: event.id,
        device: event.device,
        rule: event.rule,
        sensor: event.sensor ?? null,
        from: event.from,
        to: event.to,
        ts: event.ts,
        severity: event.severity,
        silenced: silenced ? 1 : 0,
        payload: JSON.stringify(event),
      });
      const seq = Number(lastInsertRowid);
      seqOf.set(event.id, seq);
      records.push({ seq, event, silenced });
    }
    for (const { channel, item } of change.outbox) {
      // The seq only exists once the event row does, so the engine hands items in with seq 0.
      const stored = item.kind === 'transition' ? { ...item, seq: seqOf.get(item.event.id) ?? item.seq } : item;
      this.sql.outbox.run(channel, JSON.stringify(stored), change.now, change.now);
    }
    return records;
  }

  /** Events with seq > `after`, oldest first (SSE resume). */
  eventsAfter(after: number, limit: number): AlertEventRecord[] {
    return this.sql.after.all(after, limit).map(toRecord);
  }

  lastSeq(): number {
    return this.sql.lastSeq.get() ?? 0;
  }

  /** The newest event of one instance: its message survives a restart this way, not in the state. */
  lastEvent(rule: string, device: string, sensor: string | undefined): AlertEventRecord | undefined {
    const row = this.sql.lastEvent.get(device, rule, sensor ?? null);
    return row === undefined ? undefined : toRecord(row);
  }

  /** Whether (device, rule) ever fired or resolved, i.e. has a retained state on the broker to forget. */
  everNotified(device: string, rule: string): boolean {
    return this.sql.notified.get(device, rule) !== undefined;
  }

  history(query: HistoryQuery): AlertEventRecord[] {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: query.limit };
    const filter = (name: keyof HistoryQuery, clause: string) => {
      const value = query[name];
      if (value === undefined) return;
      where.push(clause);
      params[name] = value;
    };
    filter('before', 'seq < @before');
    filter('state', 'to_state = @state');
    filter('device', 'device = @device');
    filter('from', 'ts >= @from');
    filter('to', 'ts < @to');
    const sql = `SELECT ${EVENT_COLUMNS} FROM alert_events${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`;
    let statement = this.historySql.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.historySql.set(sql, statement);
    }
    return (statement.all(params) as EventRow[]).map(toRecord);
  }

  /** False when no instance is in that episode (it resolved meanwhile, or never was). */
  acknowledge(episodeId: string, by: string, at: number): boolean {
    return this.sql.ack.run(by, at, episodeId).changes > 0;
  }

  addSilence(silence: Silence): void {
    this.db.transaction(() => {
      this.sql.pruneSilences.run(silence.createdAt - SILENCE_KEEP_MS);
      this.sql.addSilence.run({ ...silence, matchers: JSON.stringify(silence.matchers) });
    })();
  }

  /** Newest-starting last; without `includeExpired`, only those not yet ended (active or future). */
  listSilences(now: number, includeExpired: boolean): Silence[] {
    return (includeExpired ? this.sql.silences.all() : this.sql.liveSilences.all(now)).map(toSilence);
  }

  removeSilence(id: string): boolean {
    return this.sql.removeSilence.run(id).changes > 0;
  }

  activeSilences(now: number): Silence[] {
    return this.sql.activeSilences.all(now, now).map(toSilence);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
