// An agent killed with SIGKILL, seen through the HTTP API: the broker sends its retained will,
// whose time is when the agent connected (older than its birth), and the device shows offline,
// in /api/v1/devices as in the alerts. Our broker (aedes) in-process, the real backend and
// SQLite files; the agent is an MQTT client that publishes what the agent does and then vanishes.
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { apiGet } from './helpers/backend-http.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';
import { type TestBroker, USERS, connectAs, startTestBroker } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = USERS.devA.username; // a device may only publish under its own id
const STATUS = `telemetry/v1/${DEVICE}/status`;

let broker: TestBroker;
let backend: TestBackend;
let agent: MqttClient | undefined;
beforeEach(async () => {
  broker = await startTestBroker();
  const rules = [{ id: 'agent-offline', kind: 'offline', match: { device: DEVICE }, severity: 'critical' }];
  backend = await startTestBackend({
    mqttUrl: broker.url,
    settings: { mqtt: { username: USERS.backend.username, password: USERS.backend.password }, alerts: { rules, mqtt: false } },
    flags: { 'mqtt.clientId': USERS.backend.username },
  });
});
afterEach(async () => {
  await agent?.endAsync(true);
  await backend.close();
  await broker.stop();
});

const status = (state: 'online' | 'offline', ts: number) =>
  JSON.stringify({ v: 1, device: DEVICE, state, ts, boot: 'boot-1', agentVersion: '1.0.0' });

async function deviceState(base: string): Promise<string | null | undefined> {
  const { body } = await apiGet<{ devices: Array<{ device: string; state: string | null }> }>(base, '/api/v1/devices');
  return body.devices.find((entry) => entry.device === DEVICE)?.state;
}

it('shows a killed agent offline within 2 s of its will, as the offline alert does', async () => {
  const { base } = backend;
  await waitFor(() => backend.ingest.connected, { timeoutMs: 5000, what: 'the backend on the broker' });
  // As the agent connects: the will carries the time of the connection, the birth a later one.
  const connectedAt = Date.now() - 1000;
  agent = await connectAs(broker.url, USERS.devA, {
    will: { topic: STATUS, payload: Buffer.from(status('offline', connectedAt)), qos: 1, retain: true },
  });
  await agent.publishAsync(STATUS, status('online', connectedAt + 40), { qos: 1, retain: true });
  await waitFor(async () => (await deviceState(base)) === 'online', { timeoutMs: 5000, what: 'the device online' });

  // kill -9: the socket goes without a DISCONNECT, so the broker publishes the will.
  agent.stream.destroy();
  await waitFor(async () => (await deviceState(base)) === 'offline', { timeoutMs: 2000, what: 'the device offline in /api/v1/devices' });
  const { body } = await apiGet<{ items: Array<{ rule: string; device: string; phase: string }> }>(base, '/api/v1/alerts/active');
  expect(body.items).toEqual([expect.objectContaining({ rule: 'agent-offline', device: DEVICE, phase: 'firing' })]);
});
