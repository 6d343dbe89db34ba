// One case of the pipeline bench at K readings per message, on each side: the whole pipeline
// (devices -> furnace-broker -> furnace-backend -> SQLite, measured as readings committed) and
// the reference (the same load relayed by Mosquitto to one plain QoS 1 subscriber).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filters } from '../contract/index.js';
import { CommitWatcher } from './pipeline-commits.js';
import { connectClient, type Load, startLoad } from './pipeline-load.js';
import { type EndCheck, drainAndCheck, storedTotal } from './pipeline-end-check.js';
import { type BenchUsers, memoryMiB, scrapeMetric, startOurPipeline } from './pipeline-stack.js';

export interface CaseSettings {
  warmupS: number;
  measureS: number;
  drainS: number;
  confirmIntervalMs: number;
  usersFile: string;
  users: BenchUsers;
  /** Shows one line of progress (overwritten in place). */
  progress: (line: string) => void;
}

/** What the end check counted (published, stored, lost, doubled, drain time), and the case's rates and latency. */
export interface OursResult extends Omit<EndCheck, 'drainedAt'> {
  /** Readings in the store at the end over the time from the first publish until the last was committed. */
  committedPerS: number;
  /** Readings committed per second in the measured window, while the devices were publishing. */
  committedWhilePublishingPerS: number;
  /** Readings the devices published per second in the same window (what was offered). */
  publishedPerS: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
  /** Readings the broker delivered to the backend again, which the backend dropped as already stored. */
  redelivered: number;
  /** Times the broker cut the backend off (`subscriber_queue`) or queued for it (`subscriber_stall`). */
  backendDisconnects: number;
  backendStalls: number;
  rssMiB: number;
  peakRssMiB: number;
}

export interface RelayResult {
  relayedPerS: number;
  publishedPerS: number;
  /** Messages published but not received by the subscriber by the end (informative only). */
  missing: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)); // the bench's phases
const rate = (n: number, ms: number) => (n * 1000) / ms;
const fmt = (n: number) => Math.round(n).toLocaleString('en');

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Warm-up, then the measured window; `count` is what is being measured (committed, relayed). */
export async function measureWindow(
  settings: CaseSettings,
  label: string,
  load: Load,
  count: () => Promise<number>,
  onMeasuring: (on: boolean) => void,
) {
  const started = performance.now();
  let last = { at: started, n: await count() };
  const tick = async () => {
    const now = { at: performance.now(), n: await count() };
    const phase = now.at - started < settings.warmupS * 1000 ? 'warm-up' : 'measuring';
    settings.progress(
      `${label} ${phase} ${((now.at - started) / 1000).toFixed(0)} s: published ${fmt(load.published())}, ${fmt(now.n)} (${fmt(rate(now.n - last.n, now.at - last.at))}/s)`,
    );
    last = now;
  };
  const ticker = setInterval(() => void tick().catch(() => undefined), 2000); // a missed progress line is harmless
  try {
    await sleep(settings.warmupS * 1000);
    const start = { at: performance.now(), n: await count(), published: load.published() };
    onMeasuring(true);
    await sleep(settings.measureS * 1000);
    const end = { at: performance.now(), n: await count(), published: load.published() };
    onMeasuring(false);
    return { perS: rate(end.n - start.n, end.at - start.at), publishedPerS: rate(end.published - start.published, end.at - start.at) };
  } finally {
    clearInterval(ticker);
  }
}

/** The reference: the same load relayed by Mosquitto to one plain QoS 1 subscriber. */
export async function measureRelay(url: string, k: number, settings: CaseSettings): Promise<RelayResult> {
  const subscriber = await connectClient(url, settings.users.observer, `bench-relay-${process.pid}`);
  let received = 0;
  subscriber.on('message', () => received++);
  await subscriber.subscribeAsync(filters.allReadings, { qos: 1 });
  try {
    const load = await startLoad(url, settings.users.devices, k, () => undefined);
    const window = await measureWindow(
      settings,
      `K=${k} mosquitto`,
      load,
      () => Promise.resolve(received * k),
      () => undefined,
    );
    await load.stop();
    const batches = load.published() / k;
    const deadline = Date.now() + 10_000;
    while (received < batches && Date.now() < deadline) await sleep(50);
    return { relayedPerS: window.perS, publishedPerS: window.publishedPerS, missing: batches - received };
  } finally {
    await subscriber.endAsync(true);
  }
}

/** Ours: devices -> furnace-broker -> furnace-backend, counted once committed; then the loss check. */
export async function measureOurs(k: number, settings: CaseSettings): Promise<OursResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-'));
  const pipeline = await startOurPipeline(dir, settings.usersFile, settings.users, settings.confirmIntervalMs);
  let watcher: CommitWatcher | undefined;
  try {
    const commits = await CommitWatcher.start(pipeline.url, settings.users.observer);
    watcher = commits;
    let measuring = false;
    const loadStarted = performance.now();
    const load = await startLoad(
      pipeline.url,
      settings.users.devices,
      k,
      (device, seq, at) => measuring && commits.sample(device, seq, at),
    );
    const stored = () => storedTotal(pipeline);
    const window = await measureWindow(settings, `K=${k} ours`, load, stored, (on) => (measuring = on));
    const memory = await memoryMiB(pipeline.backend.pid);
    const lastSeqs = () => new Map(load.devices.map((device) => [device.device, device.lastSeq]));
    const end = await drainAndCheck(pipeline, load, {
      label: `K=${k} ours`,
      drainS: settings.drainS,
      progress: settings.progress,
      done: () => commits.covers(lastSeqs()),
    });
    const latencies = [...commits.latenciesMs].sort((a, b) => a - b);
    return {
      committedPerS: rate(end.storedDistinct, end.drainedAt - loadStarted),
      committedWhilePublishingPerS: window.perS,
      publishedPerS: window.publishedPerS,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      samples: latencies.length,
      redelivered: await scrapeMetric(pipeline.backendMetricsUrl, 'furnace_backend_readings_duplicate_total'),
      backendDisconnects: await scrapeMetric(pipeline.brokerMetricsUrl, 'furnace_broker_limit_hits_total', 'limit="subscriber_queue"'),
      backendStalls: await scrapeMetric(pipeline.brokerMetricsUrl, 'furnace_broker_limit_hits_total', 'limit="subscriber_stall"'),
      rssMiB: memory.rss,
      peakRssMiB: memory.peak,
      published: end.published,
      storedRows: end.storedRows,
      storedDistinct: end.storedDistinct,
      lost: end.lost,
      doubled: end.doubled,
      publishErrors: end.publishErrors,
      drainS: end.drainS,
    };
  } finally {
    await watcher?.stop();
    await pipeline.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
