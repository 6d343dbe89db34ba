// `/latest` under ingest: GET /api/v1/devices/{device}/latest timed over HTTP with the read
// token, one request at a time, from a worker thread (pipeline-latest-worker.ts). Only the
// requests made while `measuring` is on count.
import { Worker } from 'node:worker_threads';
import { percentile } from './pipeline-cases.js';
import type { LatestProbeData, LatestSample } from './pipeline-latest-worker.js';

export interface LatestResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  /** Answers other than 200, or none. */
  errors: number;
  perS: number;
}

export interface LatestProbe {
  measuring: boolean;
  stop: () => Promise<LatestResult>;
}

export function startLatestProbe(httpUrl: string, token: string, device: string, perS: number): LatestProbe {
  const data: LatestProbeData = {
    role: 'latest-probe',
    url: `${httpUrl}/api/v1/devices/${encodeURIComponent(device)}/latest`,
    token,
    perS,
  };
  const worker = new Worker(new URL('./pipeline-latest-worker.js', import.meta.url), { workerData: data });
  const samples: number[] = [];
  let errors = 0;
  let failure: Error | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const probe: LatestProbe = {
    measuring: false,
    stop: async () => {
      worker.postMessage('stop');
      await exited;
      if (failure) throw failure;
      const sorted = [...samples].sort((a, b) => a - b);
      return {
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1] ?? Number.NaN,
        requests: samples.length,
        errors,
        perS,
      };
    },
  };
  worker.on('message', (sample: LatestSample) => {
    if (!probe.measuring) return;
    if (sample.status === 200) samples.push(sample.ms);
    else errors++;
  });
  worker.on('error', (error) => (failure = error));
  return probe;
}
