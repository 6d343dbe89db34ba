import type Database from 'better-sqlite3';
import { type Logger, pino } from 'pino';
import type { AlertTransition } from '../../../contract/index.js';
import { OncePerKey } from '../../../contract/log-once.js';
import { cachedStatement } from '../../store/sqlite-file.js';
import { type AlertInstance, instanceKey } from '../alert-state.js';
import type { Acknowledgement, AlertEventRecord, ChannelItem, HistoryQuery, Silence, SilenceMatchers } from '../types.js';

// The alert engine's persistence over alerts.sqlite (alert-db.ts): instance states, the alert log,
// silences and the outbox rows. Synchronous (better-sqlite3): the engine commits a whole
// evaluation in one transaction, so a state, its events and their deliveries never part.

/** An instance as stored: the evaluator's state plus the episode it is in and that episode's ack. */
export interface StoredInstance {
  instance: AlertInstance;
  /** The transition that began the current pending/firing episode. */
  episodeId?: string | undefined;
  ack?: Acknowledgement | undefined;
  /**
   * Firing, and its latest firing notice (the firing or a reminder) was silenced: it owes one
   * notification once no silence covers it (engine/silence-catch-up.ts). Stored in the `state` JSON as
   * `owedNotice: true`, beside the evaluator's fields, and taken out again on load.
   */
  owedNotice?: true | undefined;
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
  key: string;
  state: string;
  episode_id: string | null;
  acked_by: string | null;
  acked_at: number | null;
  acked_comment: string | null;
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

const PHASES: ReadonlySet<unknown> = new Set(['inactive', 'pending', 'firing', 'resolved']);

/** Parsed JSON, or the reason it is not. */
function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const strings = (value: Record<string, unknown>, keys: readonly string[]) => keys.every((key) => typeof value[key] === 'string');

// Each check says what is missing, or undefined when the value has the shape the code relies on.
const instanceProblem = (v: unknown) =>
  !isObject(v) || !strings(v, ['rule', 'device'])
    ? 'not an instance'
    : !PHASES.has(v.phase)
      ? 'no phase'
      : !isObject(v.memory)
        ? 'no memory'
        : undefined;
const transitionProblem = (v: unknown) =>
  isObject(v) && strings(v, ['id', 'device', 'rule', 'from', 'to']) && typeof v.ts === 'number' ? undefined : 'not a transition';
const matchersProblem = (v: unknown) => (isObject(v) && strings(v, ['device', 'sensor', 'rule']) ? undefined : 'not silence matchers');

export class AlertStore {
  private readonly sql;
  private readonly commitTx: (change: AlertCommit) => AlertEventRecord[];
  private readonly log: Logger;
  /** Rows already reported as corrupt: each is logged at error once, then at debug (they come back on every read). */
  private readonly reported = new OncePerKey();
  private corrupt = 0;
  private readonly silenceEndedListeners: Array<(now: number) => void> = [];

  /** `log`: where rows that cannot be read are reported; without it, warnings go to stderr. */
  constructor(
    private readonly db: Database.Database,
    log?: Logger,
  ) {
    this.log = (log ?? pino({ level: 'warn' }, process.stderr)).child({ component: 'alerts:store' });
    this.sql = {
      instances: db.prepare<[], InstanceRow>('SELECT key, state, episode_id, acked_by, acked_at, acked_comment FROM alert_instances'),
      upsert: db.prepare(
        `INSERT INTO alert_instances (key, rule, device, sensor, state, episode_id, acked_by, acked_at, acked_comment)
         VALUES (@key, @rule, @device, @sensor, @state, @episodeId, @ackedBy, @ackedAt, @ackedComment)
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, episode_id = excluded.episode_id,
           acked_by = excluded.acked_by, acked_at = excluded.acked_at, acked_comment = excluded.acked_comment`,
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
      ack: db.prepare('UPDATE alert_instances SET acked_by = ?, acked_at = ?, acked_comment = ? WHERE episode_id = ?'),
      addSilence: db.prepare(
        `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at)
         VALUES (@id, @matchers, @startsAt, @endsAt, @createdBy, @comment, @createdAt)`,
      ),
      pruneSilences: db.prepare('DELETE FROM silences WHERE ends_at < ?'),
      silences: db.prepare<[], SilenceRow>('SELECT * FROM silences ORDER BY starts_at, id'),
      liveSilences: db.prepare<[number], SilenceRow>('SELECT * FROM silences WHERE ends_at > ? ORDER BY starts_at, id'),
      activeSilences: db.prepare<[number, number], SilenceRow>('SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ?'),
      // A silence ended early keeps its row, so `?expired=true` shows it; the 7-day prune removes it.
      endSilence: db.prepare('UPDATE silences SET starts_at = min(starts_at, @now), ends_at = @now WHERE id = @id AND ends_at > @now'),
    };
    this.commitTx = db.transaction((change: AlertCommit) => this.write(change));
  }

  /** Rows that could not be read since this store opened (each read of one counts). */
  get corruptRows(): number {
    return this.corrupt;
  }

  /** The stored instances; a row whose state does not parse or lacks phase or memory is skipped (logged): that instance starts afresh. */
  loadInstances(): StoredInstance[] {
    const loaded: StoredInstance[] = [];
    for (const row of this.sql.instances.all()) {
      const state = this.decode('alert_instances', row.key, row.state, instanceProblem);
      if (state === undefined) continue;
      const { owedNotice, ...instance } = state as AlertInstance & { owedNotice?: unknown };
      loaded.push({
        instance,
        ...(owedNotice === true ? { owedNotice } : {}),
        ...(row.episode_id === null ? {} : { episodeId: row.episode_id }),
        ...(row.acked_by === null || row.acked_at === null
          ? {}
          : { ack: { by: row.acked_by, at: row.acked_at, ...(row.acked_comment === null ? {} : { comment: row.acked_comment }) } }),
      });
    }
    return loaded;
  }

  /** Writes one evaluation in one transaction; returns the events with their place in the log. */
  commit(change: AlertCommit): AlertEventRecord[] {
    return this.commitTx(change);
  }

  private write(change: AlertCommit): AlertEventRecord[] {
    for (const { instance, episodeId, ack, owedNotice } of change.upsert) {
      this.sql.upsert.run({
        key: instanceKey(instance.rule, instance.device, instance.sensor),
        rule: instance.rule,
        device: instance.device,
        sensor: instance.sensor ?? null,
        state: JSON.stringify(owedNotice === true ? { ...instance, owedNotice } : instance),
        episodeId: episodeId ?? null,
        ackedBy: ack?.by ?? null,
        ackedAt: ack?.at ?? null,
        ackedComment: ack?.comment ?? null,
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
    return this.readEvents(limit, (cursor, n) => this.sql.after.all(cursor ?? after, n));
  }

  lastSeq(): number {
    return this.sql.lastSeq.get() ?? 0;
  }

  /** The newest event of one instance: its message survives a restart this way, not in the state. */
  lastEvent(rule: string, device: string, sensor: string | undefined): AlertEventRecord | undefined {
    const row = this.sql.lastEvent.get(device, rule, sensor ?? null);
    return row === undefined ? undefined : this.toRecord(row);
  }

  /** Whether (device, rule) ever fired or resolved, i.e. has a retained state on the broker to forget. */
  everNotified(device: string, rule: string): boolean {
    return this.sql.notified.get(device, rule) !== undefined;
  }

  history(query: HistoryQuery): AlertEventRecord[] {
    // Newest first: each further read continues below the oldest row of the one before.
    return this.readEvents(query.limit, (cursor, n) =>
      this.historyRows({ ...query, limit: n, ...(cursor === undefined ? {} : { before: cursor }) }),
    );
  }

  private historyRows(query: HistoryQuery): EventRow[] {
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
    // History queries come in a handful of shapes (which filters are set): one statement per shape.
    return cachedStatement(this.db, sql).all(params) as EventRow[];
  }

  /** False when no instance is in that episode (it resolved meanwhile, or never was). */
  acknowledge(episodeId: string, ack: Acknowledgement): boolean {
    return this.sql.ack.run(ack.by, ack.at, ack.comment ?? null, episodeId).changes > 0;
  }

  addSilence(silence: Silence): void {
    this.db.transaction(() => {
      this.sql.pruneSilences.run(silence.createdAt - SILENCE_KEEP_MS);
      this.sql.addSilence.run({ ...silence, matchers: JSON.stringify(silence.matchers) });
    })();
  }

  /** Newest-starting last; without `includeExpired`, only those not yet ended (active or future). */
  listSilences(now: number, includeExpired: boolean): Silence[] {
    return this.toSilences(includeExpired ? this.sql.silences.all() : this.sql.liveSilences.all(now));
  }

  /**
   * Ends the silence now (DELETE /silences/{id}): it stops silencing but stays listed with
   * `?expired=true` until the prune. False when there is no such silence or it had ended already.
   */
  removeSilence(id: string, now: number = Date.now()): boolean {
    const ended = this.sql.endSilence.run({ id, now }).changes > 0;
    if (!ended) return false;
    for (const listener of this.silenceEndedListeners) {
      try {
        listener(now);
      } catch (error) {
        // The silence has ended all the same; what the listener missed, the next alert tick does.
        this.log.error({ err: error, silence: id }, 'silence-ended listener failed');
      }
    }
    return true;
  }

  /** Calls `listener` with the time each time removeSilence ends a silence (the engine notifies what it held back). */
  onSilenceEnded(listener: (now: number) => void): void {
    this.silenceEndedListeners.push(listener);
  }

  activeSilences(now: number): Silence[] {
    return this.toSilences(this.sql.activeSilences.all(now, now));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // Reading rows: one bad row (a hand edit, a bug of an older version) must not stop the others.

  /**
   * Up to `limit` readable events through `read(cursor, n)`, where the cursor is the seq of the
   * last row read: rows that do not parse are stepped over, so a short answer still means the end.
   */
  private readEvents(limit: number, read: (cursor: number | undefined, n: number) => EventRow[]): AlertEventRecord[] {
    const records: AlertEventRecord[] = [];
    let cursor: number | undefined;
    for (;;) {
      const want = limit - records.length;
      const rows = read(cursor, want);
      for (const row of rows) {
        const record = this.toRecord(row);
        if (record !== undefined) records.push(record);
      }
      const last = rows.at(-1);
      if (rows.length < want || records.length >= limit || last === undefined) return records;
      cursor = last.seq;
    }
  }

  private toRecord(row: EventRow): AlertEventRecord | undefined {
    const event = this.decode('alert_events', String(row.seq), row.payload, transitionProblem);
    return event === undefined ? undefined : { seq: row.seq, event: event as AlertTransition, silenced: row.silenced === 1 };
  }

  private toSilences(rows: readonly SilenceRow[]): Silence[] {
    const silences: Silence[] = [];
    for (const row of rows) {
      const matchers = this.decode('silences', row.id, row.matchers, matchersProblem);
      if (matchers === undefined) continue;
      const { id, starts_at, ends_at, created_by, comment, created_at } = row;
      silences.push({
        id,
        matchers: matchers as SilenceMatchers,
        startsAt: starts_at,
        endsAt: ends_at,
        createdBy: created_by,
        comment,
        createdAt: created_at,
      });
    }
    return silences;
  }

  /** The parsed JSON of a column, or undefined (counted and logged) when it does not parse or has the wrong shape. */
  private decode(table: string, key: string, text: string, problemOf: (value: unknown) => string | undefined): unknown {
    const parsed = parseJson(text);
    const problem = 'error' in parsed ? `not JSON: ${parsed.error}` : problemOf(parsed.value);
    if (problem === undefined && 'value' in parsed) return parsed.value;
    this.corrupt++;
    const id = `${table}/${key}`;
    // Bounded (10 000 rows remembered, then it starts over): a table full of bad rows must not grow it without end.
    this.log[this.reported.level(id, '', 'error')]({ table, key, problem }, `unreadable ${table} row ${key} skipped: ${problem}`);
    return undefined;
  }
}
