import type { AlertState, AlertTransition, Severity } from '../../contract/index.js';
import type { AlertPhase } from './alert-state.js';
import type { Rule } from './rules/rule-schema.js';

// The shapes the alert engine, its store, the delivery channels and the HTTP API share.

/** One stored transition: the contract's payload plus its place in the alert log. */
export interface AlertEventRecord {
  /** Position in the alert log (1, 2, 3, ...): SSE event ids and history cursors use it. */
  seq: number;
  event: AlertTransition;
  /** A silence matched when it happened: kept in history, not notified (webhooks, alerts/v1/events). */
  silenced: boolean;
}

/** Glob matchers (`*` allowed) of a silence; a field left out matches everything (`*`). */
export interface SilenceMatchers {
  device: string;
  sensor: string;
  rule: string;
}

export interface Silence {
  id: string;
  matchers: SilenceMatchers;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  createdAt: number;
}

/** Who acknowledged an episode, when, and what they said. */
export interface Acknowledgement {
  by: string;
  at: number;
  comment?: string;
}

/** An alert that is pending or firing now, as the API lists it. */
export interface ActiveAlert {
  /** The id of the transition that began this episode (inactive/resolved → pending or firing); ack uses it. */
  id: string;
  rule: string;
  device: string;
  sensor?: string;
  phase: 'pending' | 'firing';
  severity: Severity;
  labels: Record<string, string>;
  since: number;
  value?: number | null;
  message: string;
  acknowledged?: Acknowledgement;
  silenced: boolean;
}

/**
 * What a delivery channel is handed, from its own durable outbox, in order.
 * - `transition`: one event; `state` is the retained state of (device, rule) after it, when the
 *   transition changed it (to firing or resolved, reminders included).
 * - `forget`: the (device, rule) alert no longer exists (its rule was removed): clear the retained state.
 */
export type ChannelItem =
  | { kind: 'transition'; seq: number; event: AlertTransition; silenced: boolean; state?: AlertState }
  | { kind: 'forget'; device: string; rule: string };

/** A delivery channel as the engine sees it: a name (its outbox key) and which items it takes. */
export interface ChannelSpec {
  /** `mqtt`, or `webhook:<name>`. */
  readonly name: string;
  wants(item: ChannelItem): boolean;
}

/** A history query: events newest first; `before` is the seq to continue below (the cursor). */
export interface HistoryQuery {
  /** The state entered (the event's `to`). */
  state?: AlertPhase;
  device?: string;
  /** Unix ms, inclusive, on the event's `ts`. */
  from?: number;
  /** Unix ms, exclusive. */
  to?: number;
  limit: number;
  before?: number;
}

export interface NewSilence {
  matchers: Partial<SilenceMatchers>;
  /** Default: now. */
  startsAt?: number;
  endsAt: number;
  comment?: string;
}

export type RulesUpdate =
  | { ok: true; rules: readonly Rule[] }
  | { ok: false; code: 'API_RULES_INVALID'; problems: string[] }
  | { ok: false; code: 'API_RULES_READ_ONLY'; message: string };

/** What the HTTP API needs of the alert engine (backend/http/alert-routes.ts, stream-routes.ts). */
export interface AlertsService {
  history(query: HistoryQuery): AlertEventRecord[];
  active(): ActiveAlert[];
  /** Undefined when no pending or firing alert has that id. */
  acknowledge(id: string, by: string, comment?: string): ActiveAlert | undefined;
  silences(includeExpired: boolean): Silence[];
  addSilence(silence: NewSilence, by: string): Silence;
  /** False when there is no such silence. */
  removeSilence(id: string): boolean;
  rules(): { rules: readonly Rule[]; source: string; loadedAt: number };
  /** Checks and applies a whole rule set (the parsed body of PUT /api/v1/rules); on any problem nothing changes. */
  replaceRules(raw: unknown, by: string): Promise<RulesUpdate>;
  /** Events with seq > `after`, oldest first, at most `limit` (SSE resume). */
  eventsAfter(after: number, limit: number): AlertEventRecord[];
  /** The newest seq in the log (0 when empty). */
  lastSeq(): number;
  /** Called with every batch of events right after it is committed, in order. Returns the unsubscribe. */
  onEvents(listener: (records: readonly AlertEventRecord[]) => void): () => void;
}
