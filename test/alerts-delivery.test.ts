// Alert delivery and rule reloads against a real broker and backend, with readings published
// by a stand-in agent (an MQTT.js client) so each alert happens exactly when the test says.
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MqttAlertRecorder, SseClient, WebhookReceiver } from './helpers/alert-channels.js';
import { AlertStack } from './helpers/alert-stack.js';
import { freePort } from './helpers/free-port.js';
import { stopAllProcesses } from './helpers/process.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = 'oven-7';
const HOT = { id: 'hot', kind: 'threshold', match: { device: 'oven-*', sensor: 'tc1' }, severity: 'warning', above: 100, clearAbove: 90 };
const SECRET = 'a-shared-secret-of-32-characters';

/** Publishes readings as an agent would: one batch per value, seq counting up. */
class StandInAgent {
  private seq = 0;
  private constructor(private readonly client: MqttClient) {}
  static async connect(url: string): Promise<StandInAgent> {
    return new StandInAgent(await mqtt.connectAsync(url, { protocolVersion: 4, clientId: DEVICE }));
  }
  async send(value: number): Promise<void> {
    const reading = { seq: ++this.seq, ts: Date.now(), sensor: 'tc1', value, unit: 'C', quality: 'good', clock: 'synced', replay: false };
    await this.client.publishAsync(
      `telemetry/v1/${DEVICE}/readings`,
      JSON.stringify({ v: 1, device: DEVICE, boot: 'b1', readings: [reading] }),
      { qos: 1 },
    );
  }
  close(): Promise<void> {
    return this.client.endAsync();
  }
}

describe('alert delivery', () => {
  let dir: string;
  const closers: Array<() => unknown> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'furnace-alert-delivery-'));
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  async function setUp(alerts: Record<string, unknown> = {}) {
    const stack = await AlertStack.start({ dir, rules: [HOT], alerts });
    const recorder = await MqttAlertRecorder.connect(stack.mqttUrl);
    closers.push(() => recorder.close());
    const agent = await StandInAgent.connect(stack.mqttUrl);
    closers.push(() => agent.close());
    /** One fire-and-resolve cycle, each step awaited on the MQTT event stream. */
    const cycle = async () => {
      const before = recorder.events.length;
      await agent.send(120);
      await waitFor(() => recorder.events.length >= before + 1, { timeoutMs: 10_000, what: 'the firing event on MQTT' });
      await agent.send(50);
      await waitFor(() => recorder.events.length >= before + 2, { timeoutMs: 10_000, what: 'the resolved event on MQTT' });
    };
    return { stack, recorder, agent, cycle };
  }

  it('a webhook down for a minute gets every event once, in order; one that never answers delays nothing', async () => {
    const outageStart = Date.now();
    const flaky = new WebhookReceiver(await freePort());
    const stuck = await new WebhookReceiver().start();
    stuck.hang = true;
    closers.push(
      () => flaky.stop(),
      () => stuck.stop(),
    );
    const { stack, recorder, cycle } = await setUp({
      webhooks: [
        { name: 'flaky', url: flaky.url, secret: SECRET },
        { name: 'stuck', url: stuck.url, timeoutMs: 30_000 },
      ],
    });
    const sse = new SseClient(`${stack.api}/alerts/stream`);
    closers.push(() => sse.close());
    await waitFor(() => sse.status, { timeoutMs: 5000, what: 'the SSE stream to open' });

    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      await cycle();
      // The stuck webhook holds each POST for 30 s: MQTT and SSE must not wait behind it.
      expect(Date.now() - started).toBeLessThan(5000);
    }
    await waitFor(() => sse.alerts.length === 10, { timeoutMs: 5000, what: 'the ten events on the SSE stream' });
    expect(sse.alerts.map((a) => a.id)).toEqual(recorder.events.map((e) => e.id));
    expect(flaky.received).toEqual([]);

    // The receiver comes back a minute after it went down, on the same address.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageStart + 60_000 - Date.now())));
    await flaky.start();
    await waitFor(() => flaky.received.length >= 10, { timeoutMs: 15_000, what: 'the ten held-back events at the webhook' });
    await cycle();
    const expected = recorder.events.map((e) => e.id);
    await waitFor(() => flaky.received.length >= expected.length, { timeoutMs: 10_000, what: 'the new events at the webhook' });
    expect(flaky.received.map((w) => w.event.id)).toEqual(expected);
    for (const { headers, body, event } of flaky.received) {
      expect(headers['x-furnace-event-id']).toBe(event.id);
      const signed = createHmac('sha256', SECRET)
        .update(`${String(headers['x-furnace-timestamp'])}.${body}`)
        .digest('hex');
      expect(headers['x-furnace-signature']).toBe(`sha256=${signed}`);
    }
    expect(stuck.received).toEqual([]);
  }, 120_000);

  it('an SSE client that reconnects with Last-Event-ID gets exactly the events it missed', async () => {
    const { stack, recorder, cycle } = await setUp();
    const first = new SseClient(`${stack.api}/alerts/stream`);
    closers.push(() => first.close());
    await waitFor(() => first.status, { timeoutMs: 5000, what: 'the SSE stream to open' });
    await cycle();
    await cycle();
    await waitFor(() => first.alerts.length === 4, { timeoutMs: 5000, what: 'four events on the first connection' });
    const lastId = first.lastId ?? '';
    first.close();

    for (let i = 0; i < 3; i++) await cycle();
    // Events keep coming while the client reconnects and its backlog is sent.
    const more = cycle();
    const second = new SseClient(`${stack.api}/alerts/stream`, { 'last-event-id': lastId });
    closers.push(() => second.close());
    await more;
    await waitFor(() => second.alerts.length >= 8, { timeoutMs: 5000, what: 'the missed and new events on the second connection' });
    expect(first.alerts.map((a) => a.id)).toEqual(recorder.events.slice(0, 4).map((e) => e.id));
    expect(second.alerts.map((a) => a.id)).toEqual(recorder.events.slice(4).map((e) => e.id));
    expect(second.alerts.map((a) => a.seq)).toEqual(second.alerts.map((_, i) => Number(lastId) + 1 + i));
  }, 60_000);

  it('refuses a rule set with an error on SIGHUP and on PUT, naming rule and field, and keeps the old rules', async () => {
    const { stack, cycle } = await setUp();
    const rulesNow = () => stack.get<{ rules: Array<{ id: string }> }>('/rules');
    expect((await rulesNow()).rules.map((r) => r.id)).toEqual(['hot']);

    stack.writeRules([HOT, { id: 'cold', kind: 'threshold', match: { device: '*' }, severity: 'info', below: 10, clearBelow: 5 }]);
    stack.backend.child.kill('SIGHUP');
    const refused = await stack.backend.waitForLine(/rules refused/, 5000);
    expect(refused).toContain('rules[1].clearBelow (rule cold)');
    expect((await rulesNow()).rules.map((r) => r.id)).toEqual(['hot']);
    await cycle(); // the old rule still fires

    const bad = await fetch(`${stack.api}/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: [{ ...HOT, severity: 'loud' }] }),
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { code: string; problems: string[] };
    expect(body.code).toBe('API_RULES_INVALID');
    expect(body.problems).toEqual([expect.stringContaining('rules[0].severity (rule hot)')]);
    expect((await rulesNow()).rules.map((r) => r.id)).toEqual(['hot']);

    const good = await fetch(`${stack.api}/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml' },
      body: `rules:\n  - { id: warm, kind: threshold, match: { device: 'oven-*' }, severity: info, above: 60 }\n`,
    });
    expect(good.status).toBe(200);
    expect((await rulesNow()).rules.map((r) => r.id)).toEqual(['warm']);
    // Written to the rules file, so a restart or the next SIGHUP keeps them.
    expect((parse(readFileSync(stack.rulesFile, 'utf8')) as Array<{ id: string }>).map((r) => r.id)).toEqual(['warm']);
    stack.backend.child.kill('SIGHUP');
    await stack.backend.waitForLine(/rules applied.*SIGHUP/, 5000);
    expect((await rulesNow()).rules.map((r) => r.id)).toEqual(['warm']);
  }, 60_000);
});
