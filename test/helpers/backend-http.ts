// Talking to a running backend the way clients do: a YAML config with API tokens, HTTP with a
// Bearer token, and readings batches published over MQTT.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { hashToken } from '../../backend/http/auth.js';
import type { Reading, ReadingBatch } from '../../contract/index.js';
import { ADMIN_TOKEN, READ_TOKEN } from './backend-app.js';
import { waitFor } from './wait-for.js';

export { ADMIN_TOKEN, READ_TOKEN };

/** Writes `backend.yaml` into `dir` with a read and an admin token plus `settings`; returns its path. */
export function writeBackendConfig(dir: string, settings: Record<string, unknown> = {}): string {
  const file = join(dir, 'backend.yaml');
  const tokens = [
    { name: 'dashboard', sha256: hashToken(READ_TOKEN), scopes: ['read'] },
    { name: 'operator', sha256: hashToken(ADMIN_TOKEN), scopes: ['read', 'admin'] },
  ];
  writeFileSync(file, stringify({ ...settings, auth: { tokens, ...(settings.auth as object | undefined) } }));
  return file;
}

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  ms: number;
}

/**
 * GET `path` from the API at `base` (http://127.0.0.1:PORT) with a token (none with `null`),
 * giving up after `timeoutMs`.
 */
export async function apiGet<T = unknown>(
  base: string,
  path: string,
  token: string | null = READ_TOKEN,
  timeoutMs = 20_000,
): Promise<ApiAnswer<T>> {
  const started = performance.now();
  const response = await fetch(`${base}${path}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  const body = (response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text) as T;
  return { status: response.status, body, ms: performance.now() - started };
}

interface RawPage {
  readings: Array<{ seq: number; boot: string; ts: number; sensor: string; value: number | null }>;
  truncated: boolean;
  nextCursor?: string;
}

/** Every raw reading of a device in [from, to), following the cursor page by page. */
export async function allReadings(base: string, device: string, from: number, to: number): Promise<RawPage['readings']> {
  const rows: RawPage['readings'] = [];
  let cursor = '';
  for (;;) {
    const { status, body } = await apiGet<RawPage>(base, `/api/v1/devices/${device}/readings?from=${from}&to=${to}&limit=1000${cursor}`);
    if (status !== 200) throw new Error(`GET readings answered ${status}: ${JSON.stringify(body)}`);
    rows.push(...body.readings);
    if (!body.truncated) return rows;
    cursor = `&cursor=${body.nextCursor ?? ''}`;
  }
}

/** A readings batch of `seqs`, each read at `tsOf(seq)` on sensor tc1. */
export function readingsBatch(device: string, boot: string, seqs: number[], tsOf: (seq: number) => number): ReadingBatch {
  const readings: Reading[] = seqs.map((seq) => ({
    seq,
    ts: tsOf(seq),
    sensor: 'tc1',
    value: 800 + (seq % 50),
    unit: 'C',
    quality: 'good',
    clock: 'synced',
    replay: false,
  }));
  return { v: 1, device, boot, readings };
}

/**
 * Publishes reading seq 1 of `device` until the API has it: proof that the backend is connected
 * and subscribed (a message published before its SUBSCRIBE reached the broker would be dropped).
 * Harmless to repeat: the backend stores a (device, boot, seq) once.
 */
export async function waitUntilSubscribed(base: string, client: MqttClient, batch: ReadingBatch): Promise<void> {
  await waitFor(
    async () => {
      await publishBatch(client, batch);
      return (await apiGet(base, `/api/v1/devices/${batch.device}`).catch(() => ({ status: 0 }))).status === 200;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: `the backend to store the first reading of ${batch.device}` },
  );
}

export async function publishBatch(client: MqttClient, batch: ReadingBatch): Promise<void> {
  await client.publishAsync(`telemetry/v1/${batch.device}/readings`, JSON.stringify(batch), { qos: 1 });
}
