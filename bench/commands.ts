// Command round trip, beside the broker's bare relay in the same run:
// - ours: `POST /api/v1/devices/{device}/commands/ping` to the backend (its own process), which
//   publishes the request on cmd/v1/{device}/ping through furnace-broker to a real agent (its own
//   process, reading an emulated furnace on a socat pseudo-terminal), which answers on
//   .../ping/reply back through the broker; the HTTP answer carries the reply;
// - reference: an MQTT client publishes a request (QoS 1) to an echo client through the same
//   broker, which publishes it back (QoS 1): the same two broker hops, with no HTTP and no agent.
// Sequential requests (a person at a dashboard), then bursts of concurrent ones.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startCli } from '../test/helpers/cli.js';
import { freePorts } from '../test/helpers/free-port.js';
import { stopAllProcesses } from '../test/helpers/process.js';
import { waitFor } from '../test/helpers/wait-for.js';

const DEVICE = 'bench-cmd';
const REQUESTS = Number(process.env.BENCH_COMMANDS_REQUESTS ?? 500);
const CONCURRENT = 10;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function timed(n: number, concurrency: number, once: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let done = 0; done < n; done += concurrency) {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n - done) }, async () => {
        const started = performance.now();
        await once();
        samples.push(performance.now() - started);
      }),
    );
  }
  return samples.sort((a, b) => a - b);
}

export async function run(): Promise<void> {
  process.stdout.write(
    `command round trip: ${REQUESTS} ping commands, one at a time then ${CONCURRENT} at a time\n` +
      `  HTTP -> backend -> furnace-broker -> agent (emulator on a socat PTY) -> broker -> backend -> HTTP, beside an MQTT echo through the same broker\n`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'bench-commands-'));
  const [mqttPort, httpPort] = (await freePorts(2)) as [number, number];
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const base = `http://127.0.0.1:${httpPort}`;
  try {
    await startCli('broker', ['--host', '127.0.0.1', '--port', String(mqttPort), '--allow-anonymous']);
    // 10 at a time to one device: above the default bound of 4 in flight per device (past it: 429).
    await startCli(
      'backend',
      ['--host', '127.0.0.1', '--port', String(httpPort), '--mqtt-url', url, '--data-dir', join(dir, 'backend'), '--open-access'],
      {
        FURNACE_BACKEND_COMMANDS_MAX_IN_FLIGHT_PER_DEVICE: String(CONCURRENT),
        FURNACE_BACKEND_RATE_LIMIT_PER_MINUTE: '1000000', // the bench is one client asking thousands of times a minute
      },
    );
    const link = join(dir, 'tty');
    await startCli('emulator', ['--link', link, '--interval-ms', '100', '--speed', '60']);
    await startCli('agent', ['--device', DEVICE, '--serial-path', link, '--mqtt-url', url, '--data-dir', join(dir, 'agent')], {
      FURNACE_AGENT_HEALTH_PORT: '0',
    });
    const ping = async () => {
      const response = await fetch(`${base}/api/v1/devices/${DEVICE}/commands/ping`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ timeoutMs: 5000 }),
      });
      const body = (await response.json()) as { outcome?: string };
      if (response.status !== 200 || body.outcome !== 'ok') throw new Error(`ping answered ${response.status} ${JSON.stringify(body)}`);
    };
    await waitFor(
      () =>
        ping().then(
          () => true,
          () => false,
        ),
      { timeoutMs: 30_000, intervalMs: 250, what: `the agent ${DEVICE} to answer a ping through the backend` },
    );

    // The reference: the same two broker hops, MQTT only.
    const requester = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'bench-requester' });
    const echo = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'bench-echo' });
    // The reference at its best: without Nagle's algorithm, as the agent and the backend run.
    for (const client of [requester, echo]) (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    await echo.subscribeAsync('bench/rt/request', { qos: 1 });
    echo.on('message', (_topic, payload) => void echo.publishAsync('bench/rt/reply', payload, { qos: 1 }));
    const waiting = new Map<string, () => void>();
    requester.on('message', (_topic, payload) => waiting.get(payload.toString())?.());
    await requester.subscribeAsync('bench/rt/reply', { qos: 1 });
    let next = 0;
    const relay = () =>
      new Promise<void>((resolve) => {
        const id = String(next++);
        waiting.set(id, () => {
          waiting.delete(id);
          resolve();
        });
        void requester.publishAsync('bench/rt/request', id, { qos: 1 });
      });

    await timed(50, 1, ping); // warm-up, both paths
    await timed(50, 1, relay);
    const rows: Array<[string, number[]]> = [
      ['ping command, one at a time (HTTP round trip)', await timed(REQUESTS, 1, ping)],
      ['MQTT echo, one at a time (reference)', await timed(REQUESTS, 1, relay)],
      [`ping command, ${CONCURRENT} at a time`, await timed(REQUESTS, CONCURRENT, ping)],
      [`MQTT echo, ${CONCURRENT} at a time (reference)`, await timed(REQUESTS, CONCURRENT, relay)],
    ];
    await Promise.all([requester.endAsync(), echo.endAsync()]);
    process.stdout.write(`  ${''.padEnd(48)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}\n`);
    for (const [name, samples] of rows) {
      process.stdout.write(
        `  ${name.padEnd(48)}${percentile(samples, 50).toFixed(2).padStart(9)}${percentile(samples, 99).toFixed(2).padStart(9)}\n`,
      );
    }
    const ratio = (a: number[], b: number[], p: number) => `${(percentile(a, p) / percentile(b, p)).toFixed(1)}x`.padStart(9);
    const [seq, seqRef, par, parRef] = rows.map(([, samples]) => samples) as [number[], number[], number[], number[]];
    process.stdout.write(`  ${'ratio, one at a time (command / echo)'.padEnd(48)}${ratio(seq, seqRef, 50)}${ratio(seq, seqRef, 99)}\n`);
    process.stdout.write(`  ${`ratio, ${CONCURRENT} at a time`.padEnd(48)}${ratio(par, parRef, 50)}${ratio(par, parRef, 99)}\n`);
  } finally {
    await stopAllProcesses();
    await rm(dir, { recursive: true, force: true });
  }
}
