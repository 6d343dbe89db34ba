// The fixed-rate case of the pipeline bench (issue 14: "ingest p99 (publish -> committed) < 50 ms
// at 10k readings/s", "/latest p99 < 2 ms under 10k readings/s of ingest"): the devices publish at
// a fixed rate (pipeline-paced-load.ts) through the same furnace-broker and furnace-backend the
// saturated cases start. Every batch published in the measured window is timed until the
// backend's readings stream carries its last reading (pipeline-sse-commits.ts: sent only after
// COMMIT, unthrottled), while a worker thread times GET /latest.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CaseSettings, measureWindow, percentile } from './pipeline-cases.js';
import { type EndCheck, drainAndCheck, storedTotal } from './pipeline-end-check.js';
import { type LatestProbe, type LatestResult, startLatestProbe } from './pipeline-latest-probe.js';
import { type PacedLoad, startPacedLoad } from './pipeline-paced-load.js';
import { SseCommitWatcher } from './pipeline-sse-commits.js';
import { memoryMiB, scrapeMetric, startOurPipeline } from './pipeline-stack.js';

export interface SteadySettings {
  k: number;
  /** Readings per second offered, all devices together. */
  readingsPerS: number;
  /** GET /latest requests per second (one at a time). */
  latestPerS: number;
}

export interface SteadyResult {
  k: number;
  devices: number;
  targetPerS: number;
  messagesPerSPerDevice: number;
  /** Readings published per second in the measured window. */
  offeredPerS: number;
  /** Readings committed per second in the measured window. */
  committedPerS: number;
  ingest: {
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    samples: number;
    unseen: number;
    streamsResumed: number;
    streamsReset: number;
    streamsLost: number;
  };
  /** How far behind its schedule a publish came at worst, ms. */
  publishMaxLagMs: number;
  latest: LatestResult;
  redelivered: number;
  rssMiB: number;
  end: EndCheck;
  ok: boolean;
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : 'n/a');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const ms2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

/** One pipeline, the paced load for warm-up plus the measured window, then the end check. */
export async function measureSteady(settings: CaseSettings, steady: SteadySettings): Promise<SteadyResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-steady-'));
  const pipeline = await startOurPipeline(dir, settings.usersFile, settings.users, settings.confirmIntervalMs);
  const names = settings.users.devices.map((device) => device.username);
  const perDevice = steady.readingsPerS / (steady.k * names.length);
  let watcher: SseCommitWatcher | undefined;
  let probe: LatestProbe | undefined;
  try {
    const commits = await SseCommitWatcher.start(pipeline.httpUrl, pipeline.readToken, names);
    watcher = commits;
    const latestProbe = startLatestProbe(pipeline.httpUrl, pipeline.readToken, names[0] ?? '', steady.latestPerS);
    probe = latestProbe;
    let measuring = false;
    const load: PacedLoad = await startPacedLoad(pipeline.url, settings.users.devices, steady.k, perDevice, (device, seq, at) => {
      if (measuring) commits.expect(device, seq, at);
    });
    const label = `steady ${fmt(steady.readingsPerS)}/s K=${steady.k}`;
    const window = await measureWindow(
      settings,
      label,
      load,
      () => storedTotal(pipeline),
      (on) => {
        measuring = on;
        latestProbe.measuring = on;
      },
    );
    probe = undefined;
    const latest = await latestProbe.stop();
    const memory = await memoryMiB(pipeline.backend.pid);
    // Everything stored, and seen on the streams (unless one was given up on: then the store alone).
    const done = async () => (commits.pending === 0 || commits.lost > 0) && (await storedTotal(pipeline)) >= load.published();
    const end = await drainAndCheck(pipeline, load, { label, drainS: settings.drainS, progress: settings.progress, done });
    const latencies = [...commits.latenciesMs].sort((a, b) => a - b);
    return {
      k: steady.k,
      devices: names.length,
      targetPerS: steady.readingsPerS,
      messagesPerSPerDevice: perDevice,
      offeredPerS: window.publishedPerS,
      committedPerS: window.perS,
      ingest: {
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies[latencies.length - 1] ?? Number.NaN,
        samples: latencies.length,
        unseen: commits.pending,
        streamsResumed: commits.resumed,
        streamsReset: commits.resets,
        streamsLost: commits.lost,
      },
      publishMaxLagMs: load.maxLagMs(),
      latest,
      redelivered: await scrapeMetric(pipeline.backendMetricsUrl, 'furnace_backend_readings_duplicate_total'),
      rssMiB: memory.rss,
      end,
      ok: end.lost === 0 && end.doubled === 0 && end.publishErrors === 0 && end.published > 0,
    };
  } finally {
    watcher?.stop();
    await probe?.stop().catch(() => undefined); // only after a failure, which is what is thrown
    await pipeline.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function printSteady(r: SteadyResult): void {
  const { ingest, latest, end } = r;
  process.stdout.write(
    `  steady: ${fmt(r.targetPerS)} readings/s asked (K=${r.k}, ${r.devices} devices x ${fmt(r.messagesPerSPerDevice)} messages/s, paced): ` +
      `offered ${fmt(r.offeredPerS)}/s, committed ${fmt(r.committedPerS)}/s in the measured window; publishes at worst ${ms(r.publishMaxLagMs)} ms behind schedule\n` +
      `    ingest latency publish -> committed (readings stream, sent after COMMIT): p50 ${ms(ingest.p50Ms)} ms, p99 ${ms(ingest.p99Ms)} ms, ` +
      `max ${ms(ingest.maxMs)} ms (${fmt(ingest.samples)} batches; target p99 < 50 ms)\n` +
      `    GET /latest (read token, one at a time, ${latest.perS}/s, own thread): p50 ${ms2(latest.p50Ms)} ms, p99 ${ms2(latest.p99Ms)} ms, ` +
      `max ${ms2(latest.maxMs)} ms (${fmt(latest.requests)} requests, ${latest.errors} not 200; target p99 < 2 ms)\n` +
      `    broker -> backend: ${fmt(r.redelivered)} readings redelivered; backend RSS ${r.rssMiB.toFixed(0)} MiB\n` +
      `    store: ${fmt(end.published)} published, ${fmt(end.storedRows)} rows, ${fmt(end.storedDistinct)} distinct (device, seq); ` +
      `lost ${fmt(end.lost)}, doubled ${fmt(end.doubled)}, publish errors ${end.publishErrors}; all committed ${end.drainS.toFixed(1)} s after publishing stopped\n` +
      (ingest.streamsResumed > 0
        ? `    (the backend cut the readings stream off ${ingest.streamsResumed} times, "read too slowly": resumed with Last-Event-ID; ` +
          'the readings it held meanwhile were timed on arrival, reconnect included)\n'
        : '') +
      (ingest.unseen > 0 || ingest.streamsLost > 0
        ? `    (${fmt(ingest.unseen)} timed batches never seen on the stream (${ingest.streamsReset} resets, ${ingest.streamsLost} streams given up): the latency figures miss them)\n`
        : '') +
      (r.ok ? '' : '    FAILED: readings lost, stored twice or not published\n'),
  );
}
