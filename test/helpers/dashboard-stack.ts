// The whole chain for the dashboard's browser test: broker and backend (AlertStack), an emulated
// furnace whose heater sticks on within seconds, its agent, 30 days of 1 Hz history of a second
// furnace seeded into the store before the backend starts, and an MQTT client for a third.
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { AlertStack } from './alert-stack.js';
import { readingsBatch, waitUntilSubscribed } from './backend-http.js';
import { startCli } from './cli.js';
import { seedHistory } from './seed-history.js';

export const LIVE = 'furnace-dash';
export const ARCHIVE = 'furnace-archive';
export const LOAD = 'furnace-load';
export const HISTORY_DAYS = 30;

/**
 * The overheat: the emulator runs 600 simulated seconds a real second and its heater sticks on
 * from simulated minute 40 (4 s after start) for 1000 minutes, so the reading passes 900 °C
 * about 10 s after start and stays up for the rest of the test. The demo's `npm start` cycle
 * (heater stuck 35 s after start) would make the test wait.
 */
export const OVERHEAT_SCENARIO = 'overheat@40m+1000m';
export const OVERHEAT_RULE = {
  id: 'overheat',
  kind: 'threshold',
  match: { device: LIVE, sensor: 'tc1' },
  severity: 'critical',
  above: 900,
  clearAbove: 880,
  for: 1000,
  labels: { summary: 'furnace above 900 °C' },
};
const ARCHIVE_RULE = {
  ...OVERHEAT_RULE,
  id: 'archive-hot',
  match: { device: ARCHIVE, sensor: 'tc1' },
  severity: 'warning',
  above: 760,
  clearAbove: 740,
};

export interface DashboardStack {
  stack: AlertStack;
  mqtt: MqttClient;
  /** The dashboard's address. */
  url: string;
  /** ms the 30-day seed took. */
  seedMs: number;
  close(): Promise<void>;
}

export async function startDashboardStack(dir: string): Promise<DashboardStack> {
  const hour = 3_600_000;
  const end = Date.now();
  const t0 = end - HISTORY_DAYS * 86_400_000 - (end % hour);
  const seeded = performance.now();
  await seedHistory(join(dir, 'backend'), { device: ARCHIVE, sensor: 'tc1', t0, seconds: Math.floor((end - t0) / 1000) });
  const seedMs = performance.now() - seeded;

  const stack = await AlertStack.start({ dir, rules: [OVERHEAT_RULE, ARCHIVE_RULE] });
  const client = await mqtt.connectAsync(stack.mqttUrl, { clientId: 'dashboard-test-load' });
  const base = `http://127.0.0.1:${stack.httpPort}`;
  // The third furnace exists before the page opens, so the page lists it at once.
  await waitUntilSubscribed(
    base,
    client,
    readingsBatch(LOAD, 'load', [1], () => Date.now()),
  );

  const link = join(dir, 'serial', LIVE);
  await startCli('emulator', ['--link', link, '--interval-ms', '100', '--speed', '600', '--scenario', OVERHEAT_SCENARIO]);
  const agentArgs = ['--device', LIVE, '--serial-path', link, '--mqtt-url', stack.mqttUrl, '--data-dir', join(dir, 'agent')];
  await startCli('agent', agentArgs, { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50', FURNACE_AGENT_HEALTH_PORT: '0' });
  return { stack, mqtt: client, url: `${base}/`, seedMs, close: () => client.endAsync() };
}
