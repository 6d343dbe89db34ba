// Test-only: an in-memory AlertsService, and the real HTTP app (buildApp: auth, error handler,
// rate limit, handlerTimeout, OpenAPI) with the alert and stream routes added, for the route
// tests. The real engine has end-to-end tests of its own (test/alerts-*.test.ts).
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { AlertTransition, Reading } from '../../contract/index.js';
import { parseRulesDocument } from '../../backend/alerts/rules/rule-source.js';
import type { Rule } from '../../backend/alerts/rules/rule-schema.js';
import { silenceMatches } from '../../backend/alerts/engine/silences.js';
import type {
  ActiveAlert,
  AlertEventRecord,
  AlertsService,
  HistoryQuery,
  NewSilence,
  RulesUpdate,
  Silence,
} from '../../backend/alerts/types.js';
import { loadBackendConfig } from '../../backend/config.js';
import { BackendMetrics } from '../../backend/metrics.js';
import type { DeviceRegistry } from '../../backend/registry/device-registry.js';
import type { ReadingStore, StoredReading } from '../../backend/store/reading-store.js';
import { registerAlertRoutes } from '../../backend/http/alert-routes.js';
import { buildApp } from '../../backend/http/app.js';
import { hashToken } from '../../backend/http/auth.js';
import type { FeedBatch } from '../../backend/http/readings-feed.js';
import { type StreamRouteDeps, registerStreamRoutes } from '../../backend/http/stream-routes.js';

export const T0 = 1_764_340_000_000;

/** A transition numbered `n`: `ev-n`, a second apart. */
export function transition(n: number, overrides: Partial<AlertTransition> = {}): AlertTransition {
  return {
    v: 1,
    id: `ev-${n}`,
    device: 'furnace-1',
    rule: 'overheat',
    sensor: 'tc1',
    from: 'pending',
    to: 'firing',
    ts: T0 + n * 1000,
    severity: 'critical',
    value: 1250,
    message: 'tc1 above 1200 C',
    ...overrides,
  };
}

export class FakeAlertsService implements AlertsService {
  readonly log: AlertEventRecord[] = [];
  activeAlerts: ActiveAlert[] = [];
  readonly silenceList: Silence[] = [];
  ruleSet: { rules: readonly Rule[]; source: string; loadedAt: number } = { rules: [], source: '/etc/furnace/rules.yaml', loadedAt: T0 };
  /** Rules written inline in the config: PUT answers API_RULES_READ_ONLY. */
  readOnly = false;
  /** Runs at the start of every eventsAfter: lets a test append events while a backlog is being read. */
  beforeEventsAfter: ((after: number) => void) | undefined;
  readonly calls = { eventsAfter: 0, replaceRules: [] as Array<{ raw: unknown; by: string }> };
  private readonly listeners = new Set<(records: readonly AlertEventRecord[]) => void>();
  private silenceIds = 0;

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Commits transitions to the log and tells the listeners, as the engine does after a commit. */
  append(...events: AlertTransition[]): AlertEventRecord[] {
    const records = events.map((event, i) => ({ seq: this.log.length + 1 + i, event, silenced: false }));
    for (const record of records) this.log.push(record);
    for (const listener of this.listeners) listener(records);
    return records;
  }

  history(query: HistoryQuery): AlertEventRecord[] {
    return this.log
      .filter(
        ({ seq, event }) =>
          (query.state === undefined || event.to === query.state) &&
          (query.device === undefined || event.device === query.device) &&
          (query.from === undefined || event.ts >= query.from) &&
          (query.to === undefined || event.ts < query.to) &&
          (query.before === undefined || seq < query.before),
      )
      .reverse()
      .slice(0, query.limit);
  }

  active(): ActiveAlert[] {
    return this.activeAlerts;
  }

  acknowledge(id: string, by: string, comment?: string): ActiveAlert | undefined {
    const alert = this.activeAlerts.find((candidate) => candidate.id === id);
    if (alert) alert.acknowledged = { by, at: Date.now(), ...(comment === undefined ? {} : { comment }) };
    return alert;
  }

  silences(includeExpired: boolean): Silence[] {
    const now = Date.now();
    return this.silenceList.filter((silence) => includeExpired || silence.endsAt > now);
  }

  addSilence(silence: NewSilence, by: string): Silence {
    const now = Date.now();
    const created: Silence = {
      id: `sil-${++this.silenceIds}`,
      matchers: { device: '*', sensor: '*', rule: '*', ...silence.matchers },
      startsAt: silence.startsAt ?? now,
      endsAt: silence.endsAt,
      createdBy: by,
      comment: silence.comment ?? '',
      createdAt: now,
    };
    this.silenceList.push(created);
    return created;
  }

  /** Ends the silence now, as the store does: it stays listed with expired=true. */
  removeSilence(id: string): boolean {
    const now = Date.now();
    const silence = this.silenceList.find((candidate) => candidate.id === id && candidate.endsAt > now);
    if (silence === undefined) return false;
    silence.startsAt = Math.min(silence.startsAt, now);
    silence.endsAt = now;
    return true;
  }

  /** The silences matching an alert now (what the engine would mark it with). */
  silencing(alert: { device: string; sensor?: string; rule: string }): Silence[] {
    const now = Date.now();
    return this.silenceList.filter((silence) => silenceMatches(silence, alert, now));
  }

  rules() {
    return this.ruleSet;
  }

  replaceRules(raw: unknown, by: string): Promise<RulesUpdate> {
    this.calls.replaceRules.push({ raw, by });
    if (this.readOnly)
      return Promise.resolve({ ok: false, code: 'API_RULES_READ_ONLY', message: 'the rules are inline in backend.yaml (alerts.rules)' });
    const parsed = parseRulesDocument(raw);
    if (!parsed.ok) return Promise.resolve({ ok: false, code: 'API_RULES_INVALID', problems: parsed.problems });
    this.ruleSet = { rules: parsed.rules, source: this.ruleSet.source, loadedAt: Date.now() };
    return Promise.resolve({ ok: true, rules: parsed.rules });
  }

  eventsAfter(after: number, limit: number): AlertEventRecord[] {
    this.calls.eventsAfter++;
    this.beforeEventsAfter?.(after);
    return this.log.filter((record) => record.seq > after).slice(0, limit);
  }

  lastSeq(): number {
    return this.log.length;
  }

  onEvents(listener: (records: readonly AlertEventRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const READ_TOKEN = 'ftk_read-token-of-the-alert-tests';
export const ADMIN_TOKEN = 'ftk_admin-token-of-the-alert-tests';

/** A stored tc1 reading (unless `sensor` says otherwise) of boot 01JBOOTA numbered `seq`. */
export function storedReading(device: string, seq: number, sensor = 'tc1'): StoredReading {
  return {
    device,
    boot: '01JBOOTA',
    seq,
    sensor,
    ts: T0 + seq,
    value: 800 + seq,
    unit: 'C',
    quality: 'good',
    clock: 'synced',
    replay: false,
    receivedAt: T0 + 500 + seq,
  };
}

/** Live readings the way ingest hands them over, with a way to publish. */
export class FakeReadingsFeed {
  private readonly listeners = new Set<(batches: readonly FeedBatch[]) => void>();
  readonly subscribe = (listener: (batches: readonly FeedBatch[]) => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };
  get listenerCount(): number {
    return this.listeners.size;
  }
  /** Stored readings as the feed takes them: each run of the same device, boot and receivedAt is one batch. */
  publish(_device: string, readings: readonly StoredReading[]): void {
    const batches: Array<{ device: string; boot: string; receivedAt: number; readings: Reading[] }> = [];
    for (const { device, boot, receivedAt, ...reading } of readings) {
      const last = batches[batches.length - 1];
      if (last && last.device === device && last.boot === boot && last.receivedAt === receivedAt) last.readings.push(reading);
      else batches.push({ device, boot, receivedAt, readings: [reading] });
    }
    for (const listener of this.listeners) listener(batches);
  }
}

export interface AlertsTestApp {
  app: FastifyInstance;
  alerts: FakeAlertsService;
  feed: FakeReadingsFeed;
  metrics: BackendMetrics;
  /** What the app logged (it logs warnings and errors only). */
  logs: Array<{ level: number; msg: string }>;
}

/** buildApp with a read and an admin token, plus the alert and stream routes on the fakes. */
export async function buildAlertsTestApp(
  options: { handlerTimeoutMs?: number; stream?: Omit<StreamRouteDeps, 'alerts' | 'readings' | 'metrics'> } = {},
): Promise<AlertsTestApp> {
  const defaults = loadBackendConfig(undefined, {});
  const config = {
    ...defaults,
    http: { ...defaults.http, handlerTimeoutMs: options.handlerTimeoutMs ?? defaults.http.handlerTimeoutMs },
    query: { ...defaults.query, defaultLimit: 50, maxLimit: 100 },
    auth: {
      ...defaults.auth,
      tokens: [
        { name: 'dashboard', sha256: hashToken(READ_TOKEN), scopes: ['read' as const] },
        { name: 'operator', sha256: hashToken(ADMIN_TOKEN), scopes: ['read' as const, 'admin' as const] },
      ],
    },
  };
  const alerts = new FakeAlertsService();
  const feed = new FakeReadingsFeed();
  const metrics = new BackendMetrics();
  const logs: AlertsTestApp['logs'] = [];
  const app = await buildApp({
    // The alert and stream routes never touch the store or the registry.
    store: {} as ReadingStore,
    registry: {} as DeviceRegistry,
    metrics,
    log: pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as AlertsTestApp['logs'][number]) }),
    config,
    readiness: { mqttConnected: () => true, storeFailure: () => undefined },
    admin: {
      runRetention: () => Promise.reject(new Error('not in these tests')),
      ingestState: () => ({ connected: true, uncommittedReadings: 0, storeFailure: null }),
    },
  });
  registerAlertRoutes(app, { alerts, query: config.query });
  registerStreamRoutes(app, { alerts, readings: feed.subscribe, metrics, ...options.stream });
  await app.ready();
  return { app, alerts, feed, metrics, logs };
}
