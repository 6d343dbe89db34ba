// Plant-scale ingest (issue 14): P emulated devices, each its own broker user, publish contract
// batches of K readings (QoS 1, WINDOW in flight each) through furnace-broker (its own process,
// password file, ACL, publish rate limit off) into furnace-backend (its own process, SQLite),
// measured as readings committed per second; beside the same load relayed by Mosquitto 2 to one
// plain QoS 1 subscriber, in the same run. Exits non-zero if a reading is lost or stored twice.
//
// Env: BENCH_PIPELINE_K (e.g. "10" or "1,10,100", the default), BENCH_PIPELINE_DEVICES (4),
// BENCH_PIPELINE_SECONDS (10, measured per case), BENCH_PIPELINE_WARMUP_S (2),
// BENCH_PIPELINE_DRAIN_S (30: at the end, the wait for every reading to be committed gives up
// once the store has gained nothing for this long),
// BENCH_PIPELINE_CONFIRM_MS (50, the backend's ingest.confirmIntervalMs: latency is timed by its
// confirmations, so it includes up to this much). `--json` or BENCH_JSON=1: the figures as one
// JSON line on stdout; BENCH_JSON_FILE=path: appended to that file too (history).
// BENCH_BACKEND_NODE_ARGS: node flags for the backend process alone, space-separated, e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof" for a CPU profile of the backend, written when it stops.
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CaseSettings, type OursResult, type RelayResult, measureOurs, measureRelay } from './pipeline-cases.js';
import { SAMPLE_EVERY, WINDOW } from './pipeline-load.js';
import { benchUsers, startReferenceMosquitto, writeBrokerUsers } from './pipeline-stack.js';

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
  if (ks.some((k) => !Number.isInteger(k) || k < 1 || k > 1000)) throw new Error(`BENCH_PIPELINE_K=${JSON.stringify(raw)}: expected integers 1..1000, comma-separated`);
  return ks;
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

export async function run(): Promise<void> {
  const ks = caseList();
  const devices = envNumber('BENCH_PIPELINE_DEVICES', 4);
  const measureS = envNumber('BENCH_PIPELINE_SECONDS', 10);
  const warmupS = envNumber('BENCH_PIPELINE_WARMUP_S', 2);
  const drainS = envNumber('BENCH_PIPELINE_DRAIN_S', 30);
  const confirmIntervalMs = envNumber('BENCH_PIPELINE_CONFIRM_MS', 50);
  const json = process.argv.includes('--json') || process.env.BENCH_JSON === '1';
  process.stdout.write(
    `pipeline ingest: ${devices} devices (each its own broker user), batches of K readings, QoS 1, ${WINDOW} in flight each; ` +
      `warm-up ${warmupS} s, measured ${measureS} s per case\n` +
      '  ours: -> furnace-broker (password file, ACL, publish rate limit off) -> furnace-backend (SQLite), counted once committed:\n' +
      '    every reading published (warm-up included) over the time from the first publish until the last is committed\n' +
      '  reference: the same load -> mosquitto (password file, ACL) -> one plain QoS 1 subscriber, counted once received\n' +
      `  latency: every ${SAMPLE_EVERY}th batch, publish -> covered by the backend's telemetry/v1/{device}/stored confirmation ` +
      `(sent at most every ${confirmIntervalMs} ms: ingest.confirmIntervalMs, env BENCH_PIPELINE_CONFIRM_MS)\n`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-users-'));
  const users = benchUsers(devices);
  const usersFile = join(dir, 'users');
  await writeBrokerUsers(usersFile, users);
  const mosquitto = await startReferenceMosquitto(users);
  const progress = progressLine();
  const settings: CaseSettings = { warmupS, measureS, drainS, confirmIntervalMs, usersFile, users, progress: progress.show };
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
    progress.clear();
    await mosquitto.stop();
    await rm(dir, { recursive: true, force: true });
  }
  printTable(results);
  const record = { bench: 'pipeline', at: new Date().toISOString(), cpus: cpus().length, node: process.version, devices, window: WINDOW, measureS, warmupS, confirmIntervalMs, cases: results };
  if (json) process.stdout.write(`${JSON.stringify(record)}\n`);
  if (process.env.BENCH_JSON_FILE) await appendFile(process.env.BENCH_JSON_FILE, `${JSON.stringify(record)}\n`);
  const failed = results.filter((result) => !result.ok);
  if (failed.length > 0) throw new Error(`pipeline: readings lost or stored twice at K = ${failed.map((result) => result.k).join(', ')}`);
}
