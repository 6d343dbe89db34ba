// Plant-scale ingest (issue 14): P emulated devices, each its own broker user, publish contract
// batches of K readings (QoS 1, WINDOW in flight each) through furnace-broker (its own process,
// password file, ACL, publish rate limit off) into furnace-backend (its own process, SQLite),
// measured as readings committed per second; beside the same load relayed by Mosquitto 2 to one
// plain QoS 1 subscriber, in the same run. Exits non-zero if a reading is lost or stored twice
// in any case.
//
// Cases (BENCH_PIPELINE_CASES, comma-separated, default "saturated,steady,soak"):
// - saturated: the above, devices publishing as fast as PUBACKs come back, per K.
// - steady: BENCH_PIPELINE_STEADY_RATE readings/s (10000) offered at a fixed pace, in batches of
//   BENCH_PIPELINE_STEADY_K (10), spread over the devices; ingest latency publish -> committed
//   timed by the backend's readings stream (SSE, sent right after COMMIT, not throttled), and
//   GET /latest timed over HTTP with the read token, one at a time, BENCH_PIPELINE_LATEST_PER_S
//   (20) a second. Warm-up and measured seconds as for the saturated cases. Its latency includes
//   the backend's own wait for a shared write transaction (ingest.batchMaxDelayMs, default 50 ms).
// - soak: K = 10 for BENCH_PIPELINE_SOAK_S seconds (300; 0 skips it), the backend's RSS sampled
//   every 5 s; paced at the rate the saturated K = 10 case committed in this run, or saturated
//   when that case did not run.
//
// Env: BENCH_PIPELINE_K (e.g. "10" or "1,10,100", the default), BENCH_PIPELINE_DEVICES (4),
// BENCH_PIPELINE_SECONDS (10, measured per case), BENCH_PIPELINE_WARMUP_S (2),
// BENCH_PIPELINE_DRAIN_S (30: at the end, the wait for every reading to be committed gives up
// once the store has gained nothing for this long),
// BENCH_PIPELINE_CONFIRM_MS (50, the backend's ingest.confirmIntervalMs: the saturated cases time
// latency by its confirmations, so it includes up to this much; the steady case does not).
// `--json` or BENCH_JSON=1: the figures of every case as one JSON line on stdout (`cases`: the
// saturated ones, `steady`, `soak`); BENCH_JSON_FILE=path: appended to that file too (history).
// BENCH_BACKEND_NODE_ARGS: node flags for the backend process alone, space-separated, e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof" for a CPU profile of the backend, written when it stops.
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CaseSettings, type OursResult, type RelayResult, measureOurs, measureRelay } from './pipeline-cases.js';
import { SAMPLE_EVERY, WINDOW } from './pipeline-load.js';
import { type SoakResult, measureSoak, printSoak } from './pipeline-soak.js';
import { benchUsers, startReferenceMosquitto, writeBrokerUsers } from './pipeline-stack.js';
import { type SteadyResult, measureSteady, printSteady } from './pipeline-steady.js';

const CASES = ['saturated', 'steady', 'soak'] as const;
type CaseName = (typeof CASES)[number];
/** The soak's K, as the issue asks: "a 5-minute run at the K=10 rate". */
const SOAK_K = 10;

interface CaseResult {
  k: number;
  ours: OursResult;
  mosquitto: RelayResult;
  ratio: number;
  ok: boolean;
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${JSON.stringify(raw)}: expected a number >= 0`);
  return value;
}

function caseList(): number[] {
  const raw = process.env.BENCH_PIPELINE_K ?? '1,10,100';
  const ks = raw.split(',').map((part) => Number(part.trim()));
  if (ks.some((k) => !Number.isInteger(k) || k < 1 || k > 1000))
    throw new Error(`BENCH_PIPELINE_K=${JSON.stringify(raw)}: expected integers 1..1000, comma-separated`);
  return ks;
}

function selectedCases(): Set<CaseName> {
  const raw = process.env.BENCH_PIPELINE_CASES || CASES.join(',');
  const names = raw.split(',').map((part) => part.trim());
  const unknown = names.filter((name) => !(CASES as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`BENCH_PIPELINE_CASES=${JSON.stringify(raw)}: no case ${unknown.join(', ')}; there are ${CASES.join(', ')}`);
  return new Set(names as CaseName[]);
}

/** Progress on stderr, overwritten in place. */
function progressLine(): { show: (line: string) => void; clear: () => void } {
  let width = 0;
  return {
    show: (line) => {
      process.stderr.write(`\r${line.padEnd(width)}`);
      width = line.length;
    },
    clear: () => {
      if (width > 0) process.stderr.write(`\r${''.padEnd(width)}\r`);
      width = 0;
    },
  };
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : 'n/a');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

const COLUMNS: Array<[string, number, (r: CaseResult) => string]> = [
  ['K', 5, (r) => String(r.k)],
  ['ours committed/s', 18, (r) => int(r.ours.committedPerS)],
  ['(while publishing)', 20, (r) => int(r.ours.committedWhilePublishingPerS)],
  ['mosquitto relayed/s', 21, (r) => int(r.mosquitto.relayedPerS)],
  ['ratio', 8, (r) => `${r.ratio.toFixed(2)}x`],
  ['p50 ms', 9, (r) => ms(r.ours.p50Ms)],
  ['p99 ms', 9, (r) => ms(r.ours.p99Ms)],
  ['redelivered', 13, (r) => int(r.ours.redelivered)],
  ['cut off', 9, (r) => int(r.ours.backendDisconnects)],
  ['RSS MiB', 9, (r) => r.ours.rssMiB.toFixed(0)],
  ['lost', 7, (r) => int(r.ours.lost)],
  ['doubled', 9, (r) => int(r.ours.doubled)],
];

function printTable(results: CaseResult[]): void {
  const row = (cells: string[]) => `  ${cells.map((cell, i) => cell.padStart(COLUMNS[i]?.[1] ?? 0)).join('')}\n`;
  process.stdout.write(row(COLUMNS.map(([title]) => title)));
  for (const result of results) process.stdout.write(row(COLUMNS.map(([, , cell]) => cell(result))));
}

function printCase(r: CaseResult): void {
  const o = r.ours;
  process.stdout.write(
    `  K=${r.k}: ours ${int(o.committedPerS)} readings/s committed from first publish to last commit ` +
      `(${int(o.committedWhilePublishingPerS)}/s while ${int(o.publishedPerS)}/s were published), ` +
      `mosquitto ${int(r.mosquitto.relayedPerS)} readings/s relayed, ratio ${r.ratio.toFixed(2)}x\n` +
      `    latency publish -> confirmed committed p50 ${ms(o.p50Ms)} ms, p99 ${ms(o.p99Ms)} ms (${o.samples} samples); ` +
      `backend RSS ${o.rssMiB.toFixed(0)} MiB (peak ${o.peakRssMiB.toFixed(0)})\n` +
      `    broker -> backend: ${int(o.redelivered)} readings redelivered, cut off ${o.backendDisconnects} times, queued ${o.backendStalls} times\n` +
      `    store: ${int(o.published)} published, ${int(o.storedRows)} rows, ${int(o.storedDistinct)} distinct (device, seq); ` +
      `lost ${int(o.lost)}, doubled ${int(o.doubled)}, publish errors ${o.publishErrors}; all committed ${o.drainS.toFixed(1)} s after publishing stopped\n` +
      (r.mosquitto.missing > 0 ? `    (mosquitto's subscriber missed ${int(r.mosquitto.missing)} messages)\n` : '') +
      (r.ok ? '' : '    FAILED: readings lost, stored twice or not published\n'),
  );
}

/** The saturated cases: per K, the Mosquitto relay reference, then ours. */
async function runSaturated(ks: number[], settings: CaseSettings, progress: { clear: () => void }): Promise<CaseResult[]> {
  const mosquitto = await startReferenceMosquitto(settings.users);
  const results: CaseResult[] = [];
  try {
    for (const k of ks) {
      const relay = await measureRelay(mosquitto.url, k, settings);
      const ours = await measureOurs(k, settings);
      progress.clear();
      const ok = ours.lost === 0 && ours.doubled === 0 && ours.publishErrors === 0 && ours.published > 0;
      const result: CaseResult = { k, ours, mosquitto: relay, ratio: ours.committedPerS / relay.relayedPerS, ok };
      results.push(result);
      printCase(result);
    }
  } finally {
    await mosquitto.stop();
  }
  printTable(results);
  return results;
}

function printHeader(settings: CaseSettings, devices: number, cases: Set<CaseName>): void {
  process.stdout.write(
    `pipeline ingest: ${devices} devices (each its own broker user), batches of K readings, QoS 1, ${WINDOW} in flight each; ` +
      `warm-up ${settings.warmupS} s, measured ${settings.measureS} s per case; cases: ${[...cases].join(', ')}\n` +
      '  ours: -> furnace-broker (password file, ACL, publish rate limit off) -> furnace-backend (SQLite), counted once committed:\n' +
      '    every reading published (warm-up included) over the time from the first publish until the last is committed\n',
  );
  if (!cases.has('saturated')) return;
  process.stdout.write(
    '  reference: the same load -> mosquitto (password file, ACL) -> one plain QoS 1 subscriber, counted once received\n' +
      `  saturated latency: every ${SAMPLE_EVERY}th batch, publish -> covered by the backend's telemetry/v1/{device}/stored confirmation ` +
      `(sent at most every ${settings.confirmIntervalMs} ms: ingest.confirmIntervalMs, env BENCH_PIPELINE_CONFIRM_MS)\n`,
  );
}

export async function run(): Promise<void> {
  const cases = selectedCases();
  const ks = caseList();
  const devices = envNumber('BENCH_PIPELINE_DEVICES', 4);
  const soakS = envNumber('BENCH_PIPELINE_SOAK_S', 300);
  const json = process.argv.includes('--json') || process.env.BENCH_JSON === '1';
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-users-'));
  const users = benchUsers(devices);
  const usersFile = join(dir, 'users');
  const progress = progressLine();
  const settings: CaseSettings = {
    warmupS: envNumber('BENCH_PIPELINE_WARMUP_S', 2),
    measureS: envNumber('BENCH_PIPELINE_SECONDS', 10),
    drainS: envNumber('BENCH_PIPELINE_DRAIN_S', 30),
    confirmIntervalMs: envNumber('BENCH_PIPELINE_CONFIRM_MS', 50),
    usersFile,
    users,
    progress: progress.show,
  };
  printHeader(settings, devices, cases);
  let results: CaseResult[] = [];
  let steady: SteadyResult | undefined;
  let soak: SoakResult | undefined;
  try {
    await writeBrokerUsers(usersFile, users);
    if (cases.has('saturated')) results = await runSaturated(ks, settings, progress);
    if (cases.has('steady')) {
      const k = envNumber('BENCH_PIPELINE_STEADY_K', 10);
      steady = await measureSteady(settings, {
        k,
        readingsPerS: envNumber('BENCH_PIPELINE_STEADY_RATE', 10_000),
        latestPerS: envNumber('BENCH_PIPELINE_LATEST_PER_S', 20),
      });
      progress.clear();
      printSteady(steady);
    }
    if (cases.has('soak') && soakS > 0) {
      const saturated = results.find((result) => result.k === SOAK_K)?.ours.committedPerS;
      const rateSource = saturated
        ? `the rate the saturated K=${SOAK_K} case committed in this run`
        : `no saturated K=${SOAK_K} case in this run`;
      soak = await measureSoak(settings, { k: SOAK_K, seconds: soakS, readingsPerS: saturated, rateSource });
      progress.clear();
      printSoak(soak);
    }
  } finally {
    progress.clear();
    await rm(dir, { recursive: true, force: true });
  }
  const { warmupS, measureS, confirmIntervalMs } = settings;
  const record = {
    bench: 'pipeline',
    at: new Date().toISOString(),
    cpus: cpus().length,
    node: process.version,
    devices,
    window: WINDOW,
    measureS,
    warmupS,
    confirmIntervalMs,
    cases: results,
    steady,
    soak,
  };
  if (json) process.stdout.write(`${JSON.stringify(record)}\n`);
  if (process.env.BENCH_JSON_FILE) await appendFile(process.env.BENCH_JSON_FILE, `${JSON.stringify(record)}\n`);
  const failed = [
    ...results.filter((result) => !result.ok).map((result) => `saturated K=${result.k}`),
    ...(steady?.ok === false ? ['steady'] : []),
    ...(soak?.ok === false ? ['soak'] : []),
  ];
  if (failed.length > 0) throw new Error(`pipeline: readings lost or stored twice in ${failed.join(', ')}`);
}
