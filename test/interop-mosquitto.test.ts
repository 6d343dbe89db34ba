// Agent and backend speak plain MQTT 3.1.1: the same chain works through Mosquitto
// (Debian's mosquitto) in place of our broker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { loadAgentConfig, startAgent } from '../agent/index.js';
import { LineEmulator, openInProcessTransport } from '../hardware/index.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { startTestBackend } from './helpers/test-backend.js';
import { waitFor } from './helpers/wait-for.js';

const log = pino({ level: 'silent' });

describeWithProgram('mosquitto', 'mosquitto', 'through Mosquitto', () => {
  let dir: string;
  const cleanups: Array<() => Promise<void>> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'furnace-interop-'));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries readings from the agent to the backend, in order and complete', async () => {
    const mosquitto = await startMosquitto();
    const backend = await startTestBackend({ mqttUrl: mosquitto.url, dir });
    cleanups.push(() => backend.close());
    await waitFor(() => backend.ingest.connected, { timeoutMs: 10_000, what: 'the backend to connect to Mosquitto' });

    const transport = openInProcessTransport('/dev/ttyINTEROP0');
    const config = loadAgentConfig(
      undefined,
      { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50', FURNACE_AGENT_HEALTH_PORT: '0' },
      {
        device: 'furnace-mq',
        'serial.path': transport.devicePath,
        'mqtt.url': mosquitto.url,
        dataDir: join(dir, 'agent'),
      },
    );
    const agent = startAgent(config, { log, binding: transport.binding });
    const emulator = new LineEmulator({ seed: 3, intervalMs: 10, write: (line) => transport.write(line) });
    emulator.start();
    cleanups.push(async () => {
      emulator.stop();
      await agent.stop();
      await transport.close();
    });

    const rows = await waitFor(
      async () => {
        const stored = await backend.store.readings('furnace-mq');
        return stored.length >= 40 ? stored : undefined;
      },
      { timeoutMs: 15_000, what: '40 readings through Mosquitto' },
    );
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.every((r) => r.boot === agent.boot && r.quality === 'good')).toBe(true);
  });
});
