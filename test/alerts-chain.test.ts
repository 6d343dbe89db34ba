// Alerts through the whole chain, driven by the emulator's own fault scenarios: emulator on a
// socat pseudo-terminal → agent → broker → backend (rules, state, outboxes) → MQTT, webhook
// and server-sent events subscribers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AlertTransition } from '../contract/index.js';
import { MqttAlertRecorder, SseClient, WebhookReceiver } from './helpers/alert-channels.js';
import { AlertStack } from './helpers/alert-stack.js';
import { startCli } from './helpers/cli.js';
import { type RunningProcess, stopAllProcesses } from './helpers/process.js';
import { describeWithProgram } from './helpers/require-program.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'furnace-alerts';
const pathOf = (events: readonly AlertTransition[], rule: string) => events.filter((e) => e.rule === rule).map((e) => `${e.from}→${e.to}`);

describeWithProgram('socat', 'socat', 'alerts from the emulator through every part', () => {
  let dir: string;
  const closers: Array<() => unknown> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'furnace-alerts-'));
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  async function furnace(stack: AlertStack, scenario: string, speed: number): Promise<RunningProcess> {
    const link = join(dir, 'serial', DEVICE);
    await startCli('emulator', ['--link', link, '--interval-ms', '100', '--speed', String(speed), '--scenario', scenario]);
    const agentArgs = ['--device', DEVICE, '--serial-path', link, '--mqtt-url', stack.mqttUrl, '--data-dir', join(dir, 'agent')];
    return startCli('agent', agentArgs, { FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50', FURNACE_AGENT_HEALTH_PORT: '0' });
  }

  it('an overheat fires critical once after `for` on every channel, survives a backend restart, and resolves once', async () => {
    const webhook = await new WebhookReceiver().start();
    closers.push(() => webhook.stop());
    const overheat = {
      id: 'overheat',
      kind: 'threshold',
      match: { device: DEVICE, sensor: 'tc1' },
      severity: 'critical',
      above: 950,
      clearAbove: 900,
      for: 1000,
    };
    const stack = await AlertStack.start({ dir, rules: [overheat], alerts: { webhooks: [{ name: 'pager', url: webhook.url }] } });
    const mqtt = await MqttAlertRecorder.connect(stack.mqttUrl);
    closers.push(() => mqtt.close());
    const sse = new SseClient(`${stack.api}/alerts/stream`);
    closers.push(() => sse.close());
    await waitFor(() => sse.status, { timeoutMs: 5000, what: 'the SSE stream to open' });

    // At 600 simulated seconds a second the furnace holds 850 °C after ~8 s; the runaway then climbs well past 950.
    await furnace(stack, 'overheat@80m+100m', 600);
    const firing = await waitFor(() => mqtt.events.find((e) => e.rule === 'overheat' && e.to === 'firing'), {
      timeoutMs: 40_000,
      what: 'the overheat alert to fire',
    });
    expect(firing.severity).toBe('critical');
    expect(firing.value).toBeGreaterThan(950);
    const pending = mqtt.events.find((e) => e.rule === 'overheat' && e.to === 'pending');
    expect(firing.ts - (pending?.ts ?? firing.ts)).toBeGreaterThanOrEqual(1000);
    await waitFor(() => webhook.received.some((w) => w.event.id === firing.id) && sse.alerts.some((a) => a.id === firing.id), {
      timeoutMs: 5000,
      what: 'the firing event on the webhook and the SSE stream',
    });
    // The retained state names the episode (the event that began it, which an acknowledgement uses).
    expect(mqtt.states.get(`${DEVICE}/overheat`)).toMatchObject({ state: 'firing', eventId: pending?.id });

    // A restart while it fires: the state comes back from the store, so no second `firing`.
    const lastSseId = sse.lastId;
    sse.close();
    await stack.backend.stop();
    await stack.startBackend();
    const resumed = new SseClient(`${stack.api}/alerts/stream`, lastSseId === undefined ? {} : { 'last-event-id': lastSseId });
    closers.push(() => resumed.close());
    const active = await stack.get<{ items: Array<{ id: string; rule: string; phase: string }> }>('/alerts/active');
    expect(active.items).toEqual([expect.objectContaining({ id: pending?.id ?? firing.id, rule: 'overheat', phase: 'firing' })]);

    const resolved = await waitFor(() => mqtt.events.find((e) => e.rule === 'overheat' && e.to === 'resolved'), {
      timeoutMs: 60_000,
      what: 'the overheat alert to resolve after the furnace cools',
    });
    expect(resolved.value).toBeLessThan(900);
    await waitFor(() => webhook.received.some((w) => w.event.id === resolved.id) && resumed.alerts.some((a) => a.id === resolved.id), {
      timeoutMs: 5000,
      what: 'the resolved event on the webhook and the resumed SSE stream',
    });
    expect(pathOf(mqtt.events, 'overheat')).toEqual(['inactive→pending', 'pending→firing', 'firing→resolved']);
    expect(webhook.received.map((w) => `${w.event.from}→${w.event.to}`)).toEqual(['pending→firing', 'firing→resolved']);
    // The two SSE connections together saw every event exactly once.
    expect([...sse.alerts, ...resumed.alerts].map((a) => a.id)).toEqual(mqtt.events.map((e) => e.id));
    expect(mqtt.states.get(`${DEVICE}/overheat`)).toMatchObject({ state: 'resolved', eventId: resolved.id });
    const history = await stack.get<{ items: Array<{ id: string }> }>(`/alerts?device=${DEVICE}`);
    expect(history.items.map((i) => i.id)).toEqual(mqtt.events.map((e) => e.id).reverse());
  }, 120_000);

  it('a thermocouple open fires `sensor`, silence fires `stale` on time, and a killed agent fires `offline`', async () => {
    const rules = [
      { id: 'tc-health', kind: 'sensor', match: { device: DEVICE, sensor: 'tc1' }, severity: 'warning' },
      { id: 'silent', kind: 'stale', match: { device: DEVICE, sensor: 'tc1' }, severity: 'warning', after: 1500 },
      { id: 'gone', kind: 'offline', match: { device: DEVICE }, severity: 'critical' },
    ];
    const stack = await AlertStack.start({ dir, rules });
    const mqtt = await MqttAlertRecorder.connect(stack.mqttUrl);
    closers.push(() => mqtt.close());
    // 60 simulated seconds a real second: the thermocouple is open from ~2 s to ~4 s, the line silent from ~8 s to ~12 s.
    const agent = await furnace(stack, 'tc-open@2m+2m,stall@8m+4m', 60);

    const sensorFired = await waitFor(() => mqtt.events.find((e) => e.rule === 'tc-health' && e.to === 'firing'), {
      timeoutMs: 30_000,
      what: 'the sensor alert while the thermocouple is open',
    });
    expect(sensorFired.sensor).toBe('tc1');
    await waitFor(() => mqtt.events.find((e) => e.rule === 'tc-health' && e.from === 'firing' && e.to === 'resolved'), {
      timeoutMs: 30_000,
      what: 'the sensor alert to resolve once the thermocouple reads again',
    });

    const staleFired = await waitFor(() => mqtt.events.find((e) => e.rule === 'silent' && e.to === 'firing'), {
      timeoutMs: 30_000,
      what: 'the stale alert while the line is silent',
    });
    // Judged on arrival time and checked on a 200 ms timer: it fires within `after` plus one check interval.
    const lastArrival = Math.max(...stack.arrivals(DEVICE).filter((at) => at <= staleFired.ts));
    expect(staleFired.ts - lastArrival).toBeGreaterThanOrEqual(1500);
    expect(staleFired.ts - lastArrival).toBeLessThanOrEqual(1500 + 200 + 100);
    await waitFor(() => mqtt.events.find((e) => e.rule === 'silent' && e.to === 'resolved'), {
      timeoutMs: 30_000,
      what: 'the stale alert to resolve when the lines come back',
    });

    expect(pathOf(mqtt.events, 'gone')).toEqual([]);
    agent.child.kill('SIGKILL');
    const offline = await waitFor(() => mqtt.events.find((e) => e.rule === 'gone' && e.to === 'firing'), {
      timeoutMs: 20_000,
      what: 'the offline alert after the agent is killed (its will)',
    });
    expect(offline.severity).toBe('critical');
    expect(offline.sensor).toBeUndefined();
    expect(pathOf(mqtt.events, 'gone')).toEqual(['inactive→firing']);
  }, 120_000);
});
