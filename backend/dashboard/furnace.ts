import type { Api } from './api.js';
import type { DeviceDetail, Reading, Rule, Severity } from './api-types.js';
import { FurnaceChart, PRESETS } from './chart.js';
import { h } from './dom.js';
import { EventStream } from './event-stream.js';
import { levelsFor, moreSevere, severityOf, thresholdRulesFor } from './rules.js';
import { FurnaceTile } from './tile.js';

// One furnace on the page: its tile and chart, fed by the device's readings stream (resumed with
// Last-Event-ID after a drop) and a slow poll of its status and sensors' health.

const DETAIL_EVERY_MS = 5000;

/** The sensor the tile and chart show: the first that has a value. */
export function mainSensor(detail: DeviceDetail): string {
  return (detail.sensors.find((s) => s.latest?.value !== null && s.latest !== null) ?? detail.sensors[0])?.sensor ?? 'tc1';
}

export class Furnace {
  readonly element: HTMLElement;
  readonly tile: FurnaceTile;
  readonly chart: FurnaceChart;
  private readonly stream: EventStream;
  private readonly rules: ReturnType<typeof thresholdRulesFor>;
  private poll: number | undefined;
  private started = false;
  private alertLevel: Severity | 'ok' = 'ok';

  constructor(
    private readonly api: Api,
    readonly device: string,
    detail: DeviceDetail,
    rules: readonly Rule[],
  ) {
    const sensor = mainSensor(detail);
    this.rules = thresholdRulesFor(rules, device, sensor);
    const levels = levelsFor(this.rules);
    const unit =
      detail.sensors.find((s) => s.sensor === sensor)?.unit ?? detail.sensors.find((s) => s.sensor === sensor)?.latest?.unit ?? '';
    this.tile = new FurnaceTile(device, sensor);
    this.tile.detail(detail);
    this.chart = new FurnaceChart(api, device, sensor, unit, () => levels);
    this.element = h('article', { class: 'furnace', 'data-device': device }, this.tile.element, this.chart.element);
    this.stream = new EventStream({
      api,
      url: `/api/v1/stream?device=${encodeURIComponent(device)}`,
      onEvent: (event) => {
        if (event.event === 'reading') this.reading(JSON.parse(event.data) as Reading);
        // Readings were missed (the backend restarted, or we were away too long): reload what is shown.
        else if (event.event === 'reset') void this.chart.reload();
      },
    });
  }

  /** Streams and polls; the chart loads its first range the first time. */
  start(): void {
    this.stream.start();
    clearInterval(this.poll);
    this.poll = window.setInterval(() => void this.refreshDetail(), DETAIL_EVERY_MS);
    if (!this.started) void this.chart.follow(PRESETS[0].ms, PRESETS[0].label);
    else void this.refreshDetail();
    this.started = true;
  }

  /** No work at all while the tab is hidden. */
  stop(): void {
    this.stream.stop();
    clearInterval(this.poll);
  }

  /** The most severe active alarm of this furnace (from the alarm list). */
  setAlertLevel(level: Severity | 'ok'): void {
    this.alertLevel = level;
  }

  render(now: number): void {
    this.tile.render(moreSevere(severityOf(this.rules, this.tile.value), this.alertLevel), now);
  }

  private reading(reading: Reading): void {
    if (reading.sensor !== this.chart.sensor) return;
    this.tile.reading(reading.ts, reading.quality === 'bad' ? null : reading.value, reading.unit);
    if (reading.quality !== 'bad') this.chart.live(reading.ts, reading.value);
  }

  private async refreshDetail(): Promise<void> {
    try {
      this.tile.detail(await this.api.get<DeviceDetail>(`/api/v1/devices/${encodeURIComponent(this.device)}`));
    } catch (error) {
      console.warn('device detail failed', this.device, error);
    }
  }
}
