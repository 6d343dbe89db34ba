// Probes of a running fault stack over HTTP, as an operator's monitoring sees it: the agent's
// /healthz and /metrics, the backend's /readyz and API.
import { metricIn } from '../helpers/agent-observer.js';
import { waitFor } from '../helpers/wait-for.js';
import { httpStatus } from './observe.js';
import type { FaultStack } from './stack.js';

/** The agent's /healthz status; undefined while nothing answers (the agent is down). */
export function agentHealthStatus(stack: FaultStack): Promise<number | undefined> {
  return httpStatus(`${stack.agentUrl}/healthz`);
}

/** True when the backend's /readyz says 200: connected to the broker, store writable. */
export async function backendReady(stack: FaultStack): Promise<boolean> {
  return (await httpStatus(`${stack.apiUrl}/readyz`)) === 200;
}

export async function waitUntilBackendReady(stack: FaultStack, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => backendReady(stack), { timeoutMs, intervalMs: 100, what: 'the backend /readyz to say 200' });
}

/** One sample of an agent metric; undefined when the agent does not answer. */
async function readMetric(stack: FaultStack, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  let text: string;
  try {
    text = await (await fetch(`${stack.agentUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  } catch {
    return undefined;
  }
  return metricIn(text, name, labels);
}

/** The agent's metrics: a sample, or a wait for a value. */
export function agentMetrics(stack: FaultStack) {
  const read = (name: string, labels?: Record<string, string>) => readMetric(stack, name, labels);
  const reaches = async (name: string, value: number, timeoutMs = 20_000) => {
    await waitFor(async () => ((await read(name)) ?? -Infinity) >= value, { timeoutMs, intervalMs: 100, what: `agent ${name} ≥ ${value}` });
  };
  return {
    read,
    reaches,
    /** Waits until the metric is `by` above its value now. */
    async grows(name: string, by: number, timeoutMs = 20_000): Promise<void> {
      const now = await read(name);
      if (now === undefined) throw new Error(`the agent's /metrics does not answer (waiting for ${name})`);
      await reaches(name, now + by, timeoutMs);
    },
  };
}

/** True when the agent's /metrics puts sensor tc1 in `state`. */
export async function sensorIs(stack: FaultStack, state: 'ok' | 'stalled' | 'disconnected' | 'faulty'): Promise<boolean> {
  return (await readMetric(stack, 'furnace_agent_sensor_state', { sensor: 'tc1', state })) === 1;
}

/** The HTTP status of GET `path` on the backend API (undefined: no answer within 2 s). */
export function apiStatus(stack: FaultStack, path: string): Promise<number | undefined> {
  return httpStatus(`${stack.apiUrl}${path}`);
}
