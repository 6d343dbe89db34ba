import type { Api } from './api.js';
import { chartOptions } from './chart-options.js';
import { h } from './dom.js';
import { duration, unit } from './format.js';
import { loadHistory } from './history.js';
import type { Level } from './rules.js';
import { SeriesWindow } from './series-window.js';
import uPlot from './vendor/uPlot.esm.js';

// The chart of one furnace's main sensor: a preset range that follows the live stream, or a
// drag-zoomed range that stays put. History comes downsampled from the server; live readings
// are appended on top of it without reloading, and older buckets slide out.

export const PRESETS = [
  { label: '15 min', ms: 15 * 60_000 },
  { label: '1 h', ms: 3_600_000 },
  { label: '24 h', ms: 86_400_000 },
  { label: '7 d', ms: 7 * 86_400_000 },
  { label: '30 d', ms: 30 * 86_400_000 },
] as const;

type View = { kind: 'follow'; span: number; label: string } | { kind: 'zoom'; from: number; to: number };

export class FurnaceChart {
  readonly element: HTMLElement;
  private readonly plotEl = h('div', { class: 'plot' });
  private readonly buttons: HTMLButtonElement[];
  private readonly infoEl = h('span', { class: 'chart-info', 'data-testid': 'chart-info' });
  private plot: uPlot | undefined;
  private window: SeriesWindow | undefined;
  private view: View = { kind: 'follow', span: PRESETS[0].ms, label: PRESETS[0].label };
  private pending: Array<[number, number]> = [];
  private loading: AbortController | undefined;
  private frame: number | undefined;
  /** Set while a load's first draw is awaited: its start, for the render measure. */
  private measuring: { start: number; name: string } | undefined;
  private readonly resize = new ResizeObserver(() => this.fit());
  /** Called after each draw that has data. */
  onDrawn: (points: number) => void = () => undefined;

  constructor(
    private readonly api: Api,
    readonly device: string,
    readonly sensor: string,
    private readonly unitLabel: string,
    private readonly levels: () => readonly Level[],
  ) {
    this.buttons = PRESETS.map((preset) =>
      h(
        'button',
        { type: 'button', class: 'preset', 'data-preset': preset.label, onclick: () => void this.follow(preset.ms, preset.label) },
        preset.label,
      ),
    );
    this.element = h(
      'section',
      { class: 'chart', 'data-device': device },
      h('div', { class: 'presets' }, ...this.buttons, this.infoEl),
      this.plotEl,
    );
    this.resize.observe(this.plotEl);
  }

  /** Shows the last `span` ms and follows the live readings. */
  follow(span: number, label: string): Promise<void> {
    this.view = { kind: 'follow', span, label };
    const now = Date.now();
    return this.load(now - span, now, `chart:${this.device}:${label}`);
  }

  /** Reloads what is shown now (after a stream reset: readings may have been missed). */
  reload(): Promise<void> {
    if (this.view.kind === 'follow') return this.follow(this.view.span, this.view.label);
    return this.load(this.view.from, this.view.to, `chart:${this.device}:zoom`);
  }

  /** A live reading of the main sensor. */
  live(ts: number, value: number | null): void {
    if (value === null || this.view.kind !== 'follow') return;
    if (this.loading) {
      this.pending.push([ts, value]);
      if (this.pending.length > 100_000) this.pending.shift();
      return;
    }
    if (this.window?.add(ts, value)) this.schedule();
  }

  destroy(): void {
    this.loading?.abort();
    this.resize.disconnect();
    this.plot?.destroy();
  }

  private get widthPx(): number {
    return Math.max(200, Math.round(this.plotEl.clientWidth || 600));
  }

  private async load(from: number, to: number, measure: string): Promise<void> {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    const start = performance.now();
    this.markButtons();
    try {
      const history = await loadHistory(this.api, this.device, this.sensor, from, to, this.widthPx, controller.signal);
      if (this.loading !== controller) return;
      const points = Math.max(history.points.length, Math.ceil((to - from) / history.every));
      // Twice the buckets of the range: room for the live ones before the old ones slide out.
      const window = new SeriesWindow(history.every, 2 * points + 64);
      window.load(history.points, history.to);
      for (const [ts, value] of this.pending) window.add(ts, value);
      this.pending = [];
      this.window = window;
      this.loading = undefined;
      this.measuring = { start, name: measure };
      const count = history.points.length;
      this.infoEl.textContent = `${count} point${count === 1 ? '' : 's'}, ${duration(history.every)} buckets`;
      this.draw();
    } catch (error) {
      if (controller.signal.aborted) return;
      this.loading = undefined;
      this.infoEl.textContent = `history failed: ${(error as Error).message}`;
    }
  }

  private zoom(from: number, to: number): void {
    this.view = { kind: 'zoom', from, to };
    void this.load(from, to, `chart:${this.device}:zoom`);
  }

  private markButtons(): void {
    for (const button of this.buttons)
      button.classList.toggle('active', this.view.kind === 'follow' && button.dataset.preset === this.view.label);
    this.element.classList.toggle('zoomed', this.view.kind === 'zoom');
  }

  private schedule(): void {
    // One draw per frame however many readings arrive; none while the tab is hidden.
    this.frame ??= requestAnimationFrame(() => {
      this.frame = undefined;
      this.draw();
    });
  }

  private range(): [number, number] {
    if (this.view.kind === 'zoom') return [this.view.from, this.view.to];
    const right = Math.max(Date.now(), this.window?.newestTs ?? 0);
    return [right - this.view.span, right];
  }

  private draw(): void {
    const window = this.window;
    if (!window) return;
    const [min, max] = this.range();
    if (this.view.kind === 'follow') window.dropBefore(min - window.every);
    if (!this.plot) {
      const options = chartOptions(this.widthPx, this.height(), unit(this.unitLabel), {
        onZoom: (from, to) => this.zoom(from, to),
        onDraw: () => this.drawn(),
        levels: this.levels,
      });
      this.plot = new uPlot(options, window.data, this.plotEl);
    } else {
      this.plot.setData(window.data, false);
    }
    this.plot.setScale('x', { min, max });
  }

  private drawn(): void {
    const points = this.window?.length ?? 0;
    if (this.measuring && points >= 0) {
      performance.measure(this.measuring.name, { start: this.measuring.start, end: performance.now() });
      this.measuring = undefined;
    }
    this.element.dataset.points = String(points);
    this.element.dataset.readings = String(this.window?.readings ?? 0);
    if (points > 0) this.onDrawn(points);
  }

  private height(): number {
    return window.matchMedia('(max-width: 700px)').matches ? 200 : 260;
  }

  private fit(): void {
    if (this.plot && Math.abs(this.plot.width - this.widthPx) > 2) this.plot.setSize({ width: this.widthPx, height: this.height() });
  }
}
