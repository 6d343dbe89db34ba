import type { DeviceDetail, Severity } from './api-types.js';
import { h, replace, setText } from './dom.js';
import { ago, unit, value as formatValue } from './format.js';

// The tile of one furnace: the temperature large with its unit and trend, coloured by the alert
// rules' levels, how old it is (with a stale or offline badge), the agent's state and each
// sensor's health.

/** No reading for this long: the value is stale (the backend's query.staleAfterMs default). */
export const STALE_AFTER_MS = 60_000;
/** The trend is the change over about this long. */
const TREND_SPAN_MS = 60_000;

export class FurnaceTile {
  readonly element: HTMLElement;
  private readonly valueEl = h('span', { class: 'value', 'data-testid': 'tile-value' }, '—');
  private readonly unitEl = h('span', { class: 'unit' });
  private readonly trendEl = h('span', { class: 'trend', title: 'change over the last minute' });
  private readonly ageEl = h('span', { class: 'age', 'data-testid': 'tile-age' });
  private readonly badgeEl = h('span', { class: 'badge' });
  private readonly agentEl = h('span', { class: 'agent' });
  private readonly sensorsEl = h('ul', { class: 'sensors' });
  private latest: { ts: number; value: number | null; unit: string } | undefined;
  /** Recent (ts, value) of the main sensor, for the trend; about a minute, bounded. */
  private recent: Array<[number, number]> = [];
  private status: DeviceDetail['status'] = null;

  constructor(
    readonly device: string,
    readonly sensor: string,
  ) {
    this.element = h(
      'section',
      { class: 'tile', 'data-device': device },
      h('header', {}, h('h2', {}, device), this.badgeEl),
      h('div', { class: 'reading' }, this.valueEl, this.unitEl, this.trendEl),
      h('div', { class: 'meta' }, h('span', {}, sensor), this.ageEl, this.agentEl),
      this.sensorsEl,
    );
  }

  /** A reading of the main sensor (history's last, or live). */
  reading(ts: number, value: number | null, readingUnit: string): void {
    if (this.latest && ts <= this.latest.ts) return;
    this.latest = { ts, value, unit: readingUnit };
    if (value !== null) {
      this.recent.push([ts, value]);
      while (this.recent.length > 2 && (this.recent[1]?.[0] ?? ts) < ts - TREND_SPAN_MS) this.recent.shift();
      if (this.recent.length > 600) this.recent.splice(0, this.recent.length - 600);
    }
  }

  /** The device's status and sensors' health, as GET /devices/{device} answers it. */
  detail(detail: DeviceDetail): void {
    this.status = detail.status;
    const main = detail.sensors.find((s) => s.sensor === this.sensor);
    if (main?.latest) this.reading(main.latest.ts, main.latest.value, main.latest.unit);
    replace(
      this.sensorsEl,
      ...detail.sensors.map((s) =>
        h(
          'li',
          { class: `health ${s.health?.state ?? 'unknown'}`, title: s.health?.reason ?? '' },
          h('span', { class: 'dot' }),
          `${s.sensor} ${s.health?.state ?? 'no report'}`,
          s.latest ? h('span', { class: 'small' }, ` ${formatValue(s.latest.value)} ${unit(s.latest.unit ?? s.unit)}`) : null,
        ),
      ),
    );
  }

  /** Redraws what depends on the clock and the latest values; `level` is the colour the rules give. */
  render(level: Severity | 'ok', now: number): void {
    const latest = this.latest;
    setText(this.valueEl, formatValue(latest?.value));
    setText(this.unitEl, unit(latest?.unit));
    setText(this.trendEl, this.trend());
    const age = latest ? now - latest.ts : undefined;
    setText(this.ageEl, age === undefined ? 'no reading yet' : ago(age));
    const offline = this.status?.state === 'offline';
    const stale = age === undefined || age > STALE_AFTER_MS;
    setText(this.badgeEl, offline ? 'offline' : stale ? 'stale' : 'live');
    this.badgeEl.className = `badge ${offline ? 'offline' : stale ? 'stale' : 'live'}`;
    const agent = this.status
      ? `agent ${this.status.state}${this.status.agentVersion ? ` v${this.status.agentVersion}` : ''}`
      : 'agent unknown';
    setText(this.agentEl, agent);
    this.element.dataset.level = offline || stale ? 'stale' : level;
  }

  get value(): number | null | undefined {
    return this.latest?.value;
  }

  private trend(): string {
    const first = this.recent[0];
    const last = this.recent.at(-1);
    if (!first || !last || last[0] - first[0] < 5000) return '';
    const perMin = ((last[1] - first[1]) / (last[0] - first[0])) * 60_000;
    const arrow = Math.abs(perMin) < 0.5 ? '→' : perMin > 0 ? '↑' : '↓';
    return `${arrow} ${perMin >= 0 ? '+' : ''}${perMin.toFixed(1)}/min`;
  }
}
