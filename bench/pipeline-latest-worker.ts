// The worker thread of the /latest probe (pipeline-latest-probe.ts): GET
// /api/v1/devices/{device}/latest one request at a time, `perS` a second, over one keep-alive
// connection (as a dashboard would hold one), each timed from the request to the last byte of the
// answer. A thread of its own, so the main thread's MQTT publishing and stream parsing never
// delay a timer or a response event and show up as API latency. Does nothing when imported
// from the main thread (`npm run bench` imports every module of bench/ to find the benchmarks).
import http from 'node:http';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface LatestProbeData {
  role: 'latest-probe';
  url: string;
  token: string;
  perS: number;
}

/** One timed request, posted to the main thread. */
export interface LatestSample {
  ms: number;
  status: number;
}

function timedGet(agent: http.Agent, url: string, token: string): Promise<LatestSample> {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      response.on('end', () => resolve({ ms: performance.now() - started, status: response.statusCode ?? 0 }));
    });
    // Status 0: no answer at all; counted as an error by the main thread.
    request.on('error', () => resolve({ ms: performance.now() - started, status: 0 }));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)); // the pace of the probe

async function probe(data: LatestProbeData, port: NonNullable<typeof parentPort>): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const periodMs = 1000 / data.perS;
  let running = true;
  port.on('message', (message) => {
    if (message === 'stop') running = false;
  });
  // A request that takes longer than a period delays the next one: one at a time, never a burst.
  for (let next = performance.now(); running;) {
    port.postMessage(await timedGet(agent, data.url, data.token));
    next = Math.max(next + periodMs, performance.now());
    await sleep(next - performance.now());
  }
  agent.destroy();
  port.close();
}

const data = workerData as LatestProbeData | undefined;
if (!isMainThread && parentPort && data?.role === 'latest-probe') void probe(data, parentPort);
