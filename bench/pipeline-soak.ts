// The soak case of the pipeline bench (issue 14: "Backend RSS stays bounded through a 5-minute
// run at the K=10 rate"): K readings per message for a long run, the backend's RSS sampled every
// few seconds, then the same end checks as the saturated cases (lost, doubled). The load is paced
// at the rate the saturated case of the same K committed in this run when there is one (what the
// pipeline can sustain), and saturated otherwise; the output says which.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseSettings } from './pipeline-cases.js';
import { type EndCheck, drainAndCheck, storedTotal } from './pipeline-end-check.js';
import { type Load, startLoad } from './pipeline-load.js';
import { startPacedLoad } from './pipeline-paced-load.js';
import { memoryMiB, scrapeMetric, startOurPipeline } from './pipeline-stack.js';

/** How often the backend's RSS is sampled, s. */
export const RSS_EVERY_S = 5;

export interface SoakSettings {
  k: number;
  seconds: number;
  /** Readings per second to offer (all devices); undefined: as fast as the pipeline takes them. */
  readingsPerS: number | undefined;
  /** Where the rate comes from, for the output. */
  rateSource: string;
}

export interface RssSample {
  atS: number;
  mib: number;
}

export interface SoakResult {
  k: number;
  seconds: number;
  mode: 'paced' | 'saturated';
  rateSource: string;
  targetPerS: number | null;
  offeredPerS: number;
  committedPerS: number;
  rss: {
    first: number;
    min: number;
    max: number;
    last: number;
    lastHalfGrowthMiB: number;
    lastHalfSlopeMiBPerMin: number;
    samples: RssSample[];
  };
  redelivered: number;
  end: EndCheck;
  ok: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)); // the sampling pace
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : 'n/a');
const mib = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const signed = (n: number, digits: number) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(digits)}` : 'n/a');

/** RSS over the run: first/min/max/last, the change over the last half, and its least-squares slope there. */
export function summariseRss(samples: RssSample[]): SoakResult['rss'] {
  const values = samples.map((sample) => sample.mib);
  const half = samples.slice(Math.floor(samples.length / 2));
  const n = half.length;
  const meanT = half.reduce((sum, s) => sum + s.atS, 0) / n;
  const meanV = half.reduce((sum, s) => sum + s.mib, 0) / n;
  const covariance = half.reduce((sum, s) => sum + (s.atS - meanT) * (s.mib - meanV), 0);
  const variance = half.reduce((sum, s) => sum + (s.atS - meanT) ** 2, 0);
  return {
    first: values[0] ?? Number.NaN,
    min: Math.min(...values),
    max: Math.max(...values),
    last: values[values.length - 1] ?? Number.NaN,
    lastHalfGrowthMiB: (half[n - 1]?.mib ?? Number.NaN) - (half[0]?.mib ?? Number.NaN),
    lastHalfSlopeMiBPerMin: variance > 0 ? (covariance / variance) * 60 : Number.NaN,
    samples,
  };
}

/** Samples the backend's RSS every RSS_EVERY_S until `seconds` have passed, with a progress line each time. */
async function sampleRss(
  pid: number,
  seconds: number,
  load: Load,
  label: string,
  stored: () => Promise<number>,
  progress: (line: string) => void,
) {
  const started = performance.now();
  const samples: RssSample[] = [];
  const first = { at: started, published: load.published(), stored: await stored() };
  // At 0, every RSS_EVERY_S, and at the end, each against the start: a slow sample does not shift the rest.
  const times = Array.from({ length: Math.floor(seconds / RSS_EVERY_S) + 1 }, (_, i) => i * RSS_EVERY_S);
  if ((times[times.length - 1] ?? 0) < seconds) times.push(seconds);
  for (const t of times) {
    await sleep(started + t * 1000 - performance.now());
    const elapsed = (performance.now() - started) / 1000;
    const memory = await memoryMiB(pid);
    samples.push({ atS: Math.round(elapsed * 10) / 10, mib: memory.rss });
    const n = await stored();
    const perS = (n - first.stored) / Math.max(elapsed, 0.001);
    progress(
      `${label} ${t}/${seconds} s: published ${fmt(load.published())}, committed ${fmt(n)} (${fmt(perS)}/s), backend RSS ${mib(memory.rss)} MiB`,
    );
  }
  const end = { at: performance.now(), published: load.published(), stored: await stored() };
  const s = (end.at - first.at) / 1000;
  return { samples, offeredPerS: (end.published - first.published) / s, committedPerS: (end.stored - first.stored) / s };
}

export async function measureSoak(settings: CaseSettings, soak: SoakSettings): Promise<SoakResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-soak-'));
  const pipeline = await startOurPipeline(dir, settings.usersFile, settings.users, settings.confirmIntervalMs);
  try {
    const devices = settings.users.devices;
    const paced = soak.readingsPerS !== undefined && soak.readingsPerS > 0;
    const load = paced
      ? await startPacedLoad(pipeline.url, devices, soak.k, (soak.readingsPerS ?? 0) / (soak.k * devices.length), () => undefined)
      : await startLoad(pipeline.url, devices, soak.k, () => undefined);
    const label = `soak K=${soak.k} ${paced ? `${fmt(soak.readingsPerS ?? 0)}/s` : 'saturated'}`;
    const run = await sampleRss(pipeline.backend.pid, soak.seconds, load, label, () => storedTotal(pipeline), settings.progress);
    const done = async () => (await storedTotal(pipeline)) >= load.published();
    const end = await drainAndCheck(pipeline, load, { label, drainS: settings.drainS, progress: settings.progress, done });
    return {
      k: soak.k,
      seconds: soak.seconds,
      mode: paced ? 'paced' : 'saturated',
      rateSource: soak.rateSource,
      targetPerS: paced ? (soak.readingsPerS ?? null) : null,
      offeredPerS: run.offeredPerS,
      committedPerS: run.committedPerS,
      rss: summariseRss(run.samples),
      redelivered: await scrapeMetric(pipeline.backendMetricsUrl, 'furnace_backend_readings_duplicate_total'),
      end,
      ok: end.lost === 0 && end.doubled === 0 && end.publishErrors === 0 && end.published > 0,
    };
  } finally {
    await pipeline.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function printSoak(r: SoakResult): void {
  const { rss, end } = r;
  const how = r.mode === 'paced' ? `paced at ${fmt(r.targetPerS ?? 0)} readings/s (${r.rateSource})` : `saturated (${r.rateSource})`;
  process.stdout.write(
    `  soak: K=${r.k} for ${r.seconds} s, ${how}: offered ${fmt(r.offeredPerS)}/s, committed ${fmt(r.committedPerS)}/s while publishing\n` +
      `    backend RSS every ${RSS_EVERY_S} s (${rss.samples.length} samples): first ${mib(rss.first)} MiB, min ${mib(rss.min)}, max ${mib(rss.max)}, last ${mib(rss.last)}; ` +
      `over the last half ${signed(rss.lastHalfGrowthMiB, 0)} MiB (least-squares slope ${signed(rss.lastHalfSlopeMiBPerMin, 1)} MiB/min)\n` +
      `    broker -> backend: ${fmt(r.redelivered)} readings redelivered\n` +
      `    store: ${fmt(end.published)} published, ${fmt(end.storedRows)} rows, ${fmt(end.storedDistinct)} distinct (device, seq); ` +
      `lost ${fmt(end.lost)}, doubled ${fmt(end.doubled)}, publish errors ${end.publishErrors}; all committed ${end.drainS.toFixed(1)} s after publishing stopped\n` +
      (r.ok ? '' : '    FAILED: readings lost, stored twice or not published\n'),
  );
}
