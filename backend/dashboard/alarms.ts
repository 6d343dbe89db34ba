import type { Api } from './api.js';
import type { ActiveAlert, AlertRecord } from './api-types.js';
import { alarmActions } from './alarm-actions.js';
import { alarmOrder, needsAttention } from './alarm-order.js';
import { h, replace } from './dom.js';
import { EventStream } from './event-stream.js';
import { ago, clock, value as formatValue } from './format.js';

// The alarm list: active alarms first (unacknowledged before acknowledged, then by severity and
// age), then the history. It follows the alert stream and reloads on each transition, so an
// acknowledged alarm that escalates (pending → firing) or fires again (a new episode) shows as
// unacknowledged at once.

const HISTORY = 30;

export class AlarmList {
  readonly element: HTMLElement;
  private readonly activeEl = h('ol', { class: 'active', 'data-testid': 'alarms-active' });
  private readonly historyEl = h('ol', { class: 'history', 'data-testid': 'alarms-history' });
  private readonly noteEl = h('p', { class: 'note', role: 'status' });
  private readonly stream: EventStream;
  private active: ActiveAlert[] = [];
  /** The rendered alarms by id, kept while they do not change, so a comment being typed survives reloads. */
  private rendered = new Map<string, { signature: string; element: HTMLElement; update: (now: number) => void }>();
  private refreshing: Promise<void> | undefined;
  private again = false;
  /** Called with the active alarms after each reload (tiles take their colour from them too). */
  onActive: (alerts: readonly ActiveAlert[]) => void = () => undefined;

  constructor(
    private readonly api: Api,
    private readonly canWrite: boolean,
  ) {
    this.element = h(
      'section',
      { class: 'alarms' },
      h('h2', {}, 'Alarms'),
      this.noteEl,
      this.activeEl,
      h('h3', {}, 'History'),
      this.historyEl,
    );
    this.stream = new EventStream({ api, url: '/api/v1/alerts/stream', onEvent: () => void this.refresh() });
  }

  start(): void {
    this.stream.start();
    void this.refresh();
  }

  stop(): void {
    this.stream.stop();
  }

  /** Reloads active alarms and history; calls made meanwhile coalesce into one more reload. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.load().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  /** Redraws the ages ("since 2 min ago") without asking the backend. */
  tick(): void {
    this.renderActive();
  }

  private async load(): Promise<void> {
    try {
      const [active, history] = await Promise.all([
        this.api.get<{ items: ActiveAlert[] }>('/api/v1/alerts/active'),
        this.api.get<{ items: AlertRecord[] }>(`/api/v1/alerts?limit=${HISTORY}`),
      ]);
      this.active = active.items.sort(alarmOrder);
      this.renderActive();
      replace(this.historyEl, ...history.items.map((record) => this.historyItem(record)));
      this.onActive(this.active);
    } catch (error) {
      this.noteEl.textContent = `alarms could not be loaded: ${(error as Error).message}`;
    }
  }

  private renderActive(): void {
    const now = Date.now();
    if (this.active.length === 0) {
      this.rendered.clear();
      replace(this.activeEl, h('li', { class: 'none' }, 'No active alarms'));
      return;
    }
    const next = new Map<string, { signature: string; element: HTMLElement; update: (now: number) => void }>();
    for (const alert of this.active) {
      // The value moves with every reading; the element is rebuilt only when the rest changes.
      const signature = JSON.stringify({ ...alert, value: undefined });
      const kept = this.rendered.get(alert.id);
      const item = kept?.signature === signature ? kept : { signature, ...this.activeItem(alert) };
      item.update(now);
      next.set(alert.id, item);
    }
    this.rendered = next;
    const elements = [...next.values()].map((item) => item.element);
    // Only touch the list when its members or their order changed: a focused input keeps its focus.
    const same = elements.length === this.activeEl.children.length && elements.every((element, i) => this.activeEl.children[i] === element);
    if (!same) replace(this.activeEl, ...elements);
  }

  private activeItem(alert: ActiveAlert): { element: HTMLElement; update: (now: number) => void } {
    const attention = needsAttention(alert);
    const ack = alert.acknowledged;
    const since = h('div', { class: 'since', title: clock(alert.since) });
    const acked = ack ? h('div', { class: 'acked-by', 'data-testid': 'ack' }) : null;
    const element = h(
      'li',
      {
        class: `alarm ${alert.severity} ${alert.phase}${attention ? ' attention' : ' acked'}`,
        'data-alert-id': alert.id,
        'data-rule': alert.rule,
      },
      h(
        'div',
        { class: 'headline' },
        h('span', { class: `severity ${alert.severity}` }, alert.severity),
        h('strong', {}, `${alert.device}${alert.sensor ? ` ${alert.sensor}` : ''} · ${alert.rule}`),
        h('span', { class: 'phase' }, alert.phase),
        alert.silenced ? h('span', { class: 'silenced' }, 'silenced') : null,
      ),
      h('div', { class: 'message' }, alert.message),
      since,
      acked,
      this.canWrite ? alarmActions(this.api, alert, (message) => this.acted(message)) : null,
    );
    const update = (now: number) => {
      const current = this.active.find((a) => a.id === alert.id) ?? alert;
      since.textContent = `since ${clock(alert.since, now)} (${ago(now - alert.since)})${current.value === undefined ? '' : ` · last ${formatValue(current.value)}`}`;
      if (acked && ack) {
        acked.textContent = `acknowledged by ${ack.by} ${ago(now - ack.at)}${ack.comment ? `: “${ack.comment}”` : ''}${attention ? ' (before it escalated)' : ''}`;
      }
    };
    return { element, update };
  }

  private acted(message: string): void {
    this.noteEl.textContent = message;
    void this.refresh();
  }

  private historyItem(record: AlertRecord): HTMLElement {
    return h(
      'li',
      { class: `event ${record.severity} to-${record.to}` },
      h('time', {}, clock(record.ts)),
      ` ${record.device}${record.sensor ? ` ${record.sensor}` : ''} ${record.rule}: ${record.from} → ${record.to}${record.silenced ? ' (silenced)' : ''}`,
    );
  }
}
