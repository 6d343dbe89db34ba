// Bad payloads on the readings topic are refused, counted by cause, and never stop the
// backend storing the good readings published right after them.
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningBroker, loadBrokerConfig, startBroker } from '../broker/index.js';
import type { Reading, ReadingBatch } from '../contract/index.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';
import { waitFor } from './helpers/wait-for.js';

const log = pino({ level: 'silent' });

function reading(seq: number): Reading {
  return { seq, ts: 1_764_340_000_000 + seq, sensor: 'tc1', value: 800 + seq, unit: 'C', quality: 'good', clock: 'synced', replay: false };
}

function batch(device: string, seqs: number[]): ReadingBatch {
  return { v: 1, device, boot: 'boot-1', readings: seqs.map(reading) };
}

async function metric(backend: TestBackend, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${backend.base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

describe('malformed readings payloads', () => {
  let broker: RunningBroker;
  let backend: TestBackend;
  let publisher: MqttClient;

  beforeEach(async () => {
    // Anonymous and a packet limit above the 1 MB of junk: here the backend must be the one that refuses it.
    const brokerOverrides = {
      'tcp.host': '127.0.0.1',
      'tcp.port': '0',
      'auth.allowAnonymous': 'true',
      'limits.maxPacketBytes': String(2 * 1024 * 1024),
    };
    broker = await startBroker(loadBrokerConfig(undefined, {}, brokerOverrides), log);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    backend = await startTestBackend({ mqttUrl: url });
    publisher = await mqtt.connectAsync(url, { protocolVersion: 4 });
    // The backend subscribes after it connects: a first good reading stored proves it listens.
    await publisher.publishAsync('telemetry/v1/x/readings', JSON.stringify(batch('x', [1])), { qos: 1 });
    await waitFor(async () => (await backend.store.readings('x')).length === 1, { timeoutMs: 10_000, what: 'the first reading' });
  });

  afterEach(async () => {
    await publisher.endAsync();
    await backend.close();
    await broker.close();
  });

  it('counts and drops each kind of bad payload, and keeps storing good ones', async () => {
    const topic = 'telemetry/v1/x/readings';
    const wrongTypes = { ...batch('x', [2]), readings: [{ ...reading(2), seq: 'two', value: 'hot' }] };
    const bad: Array<string | Buffer> = [
      'not json at all',
      Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
      JSON.stringify(wrongTypes),
      JSON.stringify(batch('y', [2])), // names another device than the topic
      JSON.stringify(batch('x', [3, 2])), // seq going backwards
      Buffer.alloc(1024 * 1024, 0x41), // 1 MB of junk
      '',
    ];
    for (const payload of bad) await publisher.publishAsync(topic, payload, { qos: 1 });
    await publisher.publishAsync(topic, JSON.stringify(batch('x', [2, 3, 4])), { qos: 1 });

    const stored = await waitFor(
      async () => {
        const rows = await backend.store.readings('x');
        return rows.length === 4 ? rows : undefined;
      },
      { timeoutMs: 10_000, what: 'the good readings after the bad payloads' },
    );
    expect(stored.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(stored.map((r) => r.value)).toEqual([801, 802, 803, 804]);
    expect(await metric(backend, 'furnace_backend_payloads_rejected_total', '{cause="not_json"}')).toBe(3);
    expect(await metric(backend, 'furnace_backend_payloads_rejected_total', '{cause="schema"}')).toBe(1);
    expect(await metric(backend, 'furnace_backend_payloads_rejected_total', '{cause="device_mismatch"}')).toBe(1);
    expect(await metric(backend, 'furnace_backend_payloads_rejected_total', '{cause="seq_order"}')).toBe(1);
    expect(await metric(backend, 'furnace_backend_payloads_rejected_total', '{cause="too_large"}')).toBe(1);
    expect(await metric(backend, 'furnace_backend_readings_stored_total')).toBe(4);
    // Nothing of the bad payloads reached the store: not even the device named only in a forged payload.
    expect((await backend.store.listDevices()).map((d) => d.device)).toEqual(['x']);
  });

  it('stores a redelivered batch once and counts the duplicates', async () => {
    const payload = JSON.stringify(batch('x', [2, 3]));
    await publisher.publishAsync('telemetry/v1/x/readings', payload, { qos: 1 });
    await publisher.publishAsync('telemetry/v1/x/readings', payload, { qos: 1 });
    await waitFor(async () => (await metric(backend, 'furnace_backend_readings_duplicate_total')) === 2, {
      timeoutMs: 10_000,
      what: 'two duplicates counted',
    });
    expect((await backend.store.readings('x')).map((r) => r.seq)).toEqual([1, 2, 3]);
  });
});
