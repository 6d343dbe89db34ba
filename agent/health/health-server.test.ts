import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentError } from '../errors.js';
import { type HealthServer, startHealthServer } from './health-server.js';
import { AgentMetrics } from './metrics.js';

describe('the agent health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers /healthz 200 or 503 from the report, and /metrics with the live gauges', async () => {
    let ok = true;
    let depth = 7;
    const metrics = new AgentMetrics({ outboxDepth: () => depth, outboxOldestAgeMs: () => 2500, mqttConnected: () => ok });
    metrics.parseErrors.inc({ reason: 'not_a_number' }, 3);
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, health: () => ({ ok, mqtt: ok }) });
    const base = `http://127.0.0.1:${server.port}`;

    const healthy = await fetch(`${base}/healthz`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({ ok: true, mqtt: true });
    ok = false;
    depth = 12;
    expect((await fetch(`${base}/healthz`)).status).toBe(503);

    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('furnace_agent_outbox_depth 12');
    expect(text).toContain('furnace_agent_outbox_oldest_age_seconds 2.5');
    expect(text).toContain('furnace_agent_mqtt_connected 0');
    expect(text).toContain('furnace_agent_parse_errors_total{reason="not_a_number"} 3');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('refuses a port in use with an error naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const metrics = new AgentMetrics({ outboxDepth: () => 0, outboxOldestAgeMs: () => 0, mqttConnected: () => true });
    try {
      await expect(
        startHealthServer({ host: '127.0.0.1', port, registry: metrics.registry, health: () => ({ ok: true }) }),
      ).rejects.toThrow(
        new AgentError('AGENT_HEALTH_PORT_FAILED', `health port ${port} on 127.0.0.1 is already in use (setting health.port)`),
      );
    } finally {
      blocker.close();
    }
  });
});
