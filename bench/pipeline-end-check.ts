// The end of every pipeline case: stop publishing, wait for the backlog to be committed, then
// count what the store holds against what was published (lost, doubled).
import type { Load } from './pipeline-load.js';
import { type OurPipeline, countStored, scrapeMetric } from './pipeline-stack.js';

export interface EndCheck {
  published: number;
  storedRows: number;
  storedDistinct: number;
  lost: number;
  doubled: number;
  publishErrors: number;
  /** Seconds from the end of publishing until everything was committed (or the backlog stood still for drainS). */
  drainS: number;
  /** performance.now() when the wait ended. */
  drainedAt: number;
}

export interface DrainOptions {
  label: string;
  /** Give up once the store has gained nothing for this long, s. */
  drainS: number;
  progress: (line: string) => void;
  /** Whether everything published is committed, by the case's own measure. */
  done: () => boolean | Promise<boolean>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)); // polling the store while it drains
const fmt = (n: number) => Math.round(n).toLocaleString('en');

export function storedTotal(pipeline: OurPipeline): Promise<number> {
  return scrapeMetric(pipeline.backendMetricsUrl, 'furnace_backend_readings_stored_total');
}

/** Stops the load, waits for the backlog, then counts the readings table. */
export async function drainAndCheck(pipeline: OurPipeline, load: Load, options: DrainOptions): Promise<EndCheck> {
  await load.stop();
  const stopped = performance.now();
  // The broker may hold far more than the backend committed meanwhile: wait for the backlog while
  // it moves, and give up only once it has stood still for drainS.
  let moved = { at: stopped, n: await storedTotal(pipeline) };
  let lastProgress = 0;
  while (!(await options.done()) && performance.now() - moved.at < options.drainS * 1000) {
    await sleep(100);
    const n = await storedTotal(pipeline);
    if (n !== moved.n) moved = { at: performance.now(), n };
    if (performance.now() - lastProgress >= 2000) {
      lastProgress = performance.now();
      options.progress(`${options.label} draining: ${fmt(n)} of ${fmt(load.published())} committed`);
    }
  }
  const drainedAt = performance.now();
  const table = countStored(pipeline.dataDir);
  const published = load.published();
  return {
    published,
    storedRows: table.rows,
    storedDistinct: table.distinct,
    lost: published - table.distinct,
    doubled: table.rows - table.distinct,
    publishErrors: load.devices.reduce((sum, device) => sum + device.errors, 0),
    drainS: (drainedAt - stopped) / 1000,
    drainedAt,
  };
}
