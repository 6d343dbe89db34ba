import uPlot from './vendor/uPlot.esm.js';
import type { Level } from './rules.js';

// uPlot's options for a furnace chart: the mean as a line, min..max of each bucket as a band
// behind it, and the rules' threshold (solid) and clear (dashed) levels as horizontal lines.

const COLOURS = { critical: '#d62728', warning: '#e6a100', info: '#1f77b4' } as const;

export interface ChartHooks {
  /** A drag selected min..max on the x axis (ms). */
  onZoom(min: number, max: number): void;
  /** The chart was drawn. */
  onDraw(): void;
  levels(): readonly Level[];
}

function drawLevels(u: uPlot, levels: readonly Level[]): void {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.font = `${Math.round(11 * uPlot.pxRatio)}px system-ui, sans-serif`;
  ctx.textAlign = 'right';
  for (const level of levels) {
    const y = Math.round(u.valToPos(level.value, 'y', true));
    if (y < bbox.top || y > bbox.top + bbox.height) continue;
    ctx.strokeStyle = COLOURS[level.severity];
    ctx.fillStyle = COLOURS[level.severity];
    ctx.lineWidth = uPlot.pxRatio;
    ctx.setLineDash(level.kind === 'clear' ? [6 * uPlot.pxRatio, 4 * uPlot.pxRatio] : []);
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    // Threshold labels above their line, clear labels below theirs: the two are often close.
    const dy = level.kind === 'clear' ? 13 * uPlot.pxRatio : -3 * uPlot.pxRatio;
    ctx.fillText(level.label, bbox.left + bbox.width - 4, y + dy);
  }
  ctx.restore();
}

/** The y range: the data's, widened to show every level, with a little room. */
function yRange(u: uPlot, dataMin: number | null, dataMax: number | null, levels: readonly Level[]): [number, number] {
  const values = [dataMin, dataMax, ...levels.map((level) => level.value)].filter((v): v is number => v !== null && Number.isFinite(v));
  if (values.length === 0) return [0, 1];
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (max - min < 1) {
    min -= 1;
    max += 1;
  }
  const pad = (max - min) * 0.08;
  void u;
  return [min - pad, max + pad];
}

export function chartOptions(width: number, height: number, unitLabel: string, hooks: ChartHooks): uPlot.Options {
  return {
    width,
    height,
    ms: 1,
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => yRange(u, min, max, hooks.levels()) } },
    axes: [
      { stroke: '#8a94a6', grid: { stroke: '#2a3140', width: 1 }, ticks: { stroke: '#2a3140' } },
      { stroke: '#8a94a6', grid: { stroke: '#2a3140', width: 1 }, ticks: { stroke: '#2a3140' }, label: unitLabel, size: 56 },
    ],
    series: [
      {},
      // Dots only while there are too few points for a line to show (a furnace that just started).
      {
        label: 'mean',
        stroke: '#4fc3f7',
        width: 1.5,
        points: { show: (_u, _series, first, last) => last - first < 3, size: 6, fill: '#4fc3f7' },
      },
      { label: 'min', stroke: 'rgba(79,195,247,0.35)', width: 0.5, points: { show: false } },
      { label: 'max', stroke: 'rgba(79,195,247,0.35)', width: 0.5, points: { show: false } },
    ],
    bands: [{ series: [3, 2], fill: 'rgba(79,195,247,0.18)' }],
    hooks: {
      draw: [
        (u) => {
          drawLevels(u, hooks.levels());
          hooks.onDraw();
        },
      ],
      setSelect: [
        (u) => {
          if (u.select.width < 5) return;
          const min = u.posToVal(u.select.left, 'x');
          const max = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          hooks.onZoom(min, max);
        },
      ],
    },
  };
}
