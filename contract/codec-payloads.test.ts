import { describe, expect, it } from 'vitest';
import { type Json, DEVICE, batch, expectAccepted, expectRejected, json, reading } from '../test/helpers/codec-fixtures.js';
import {
  decodeCommand,
  decodeCommandReply,
  decodeDeviceStatus,
  decodeReadingBatch,
  decodeSensorsHealth,
  decodeStoredConfirmation,
  formatIssues,
} from './index.js';

describe('decodeDeviceStatus', () => {
  const status = (overrides: Json = {}): Json => ({
    v: 1,
    device: DEVICE,
    state: 'online',
    ts: 1764340000000,
    boot: '01JBOOT',
    agentVersion: '0.1.0',
    sensors: [{ id: 'tc1', unit: 'C', min: -200, max: 1350 }],
    ...overrides,
  });

  it('accepts an online birth with metadata and a bare offline will', () => {
    expect(expectAccepted(decodeDeviceStatus(DEVICE, json(status())))).toEqual(status());
    const will = { v: 1, device: DEVICE, state: 'offline', ts: 1764340000000 };
    expect(expectAccepted(decodeDeviceStatus(DEVICE, Buffer.from(json(will))))).toEqual(will);
  });

  it('refuses an unknown state', () => {
    expectRejected(decodeDeviceStatus(DEVICE, json(status({ state: 'sleeping' }))), 'schema', '/state');
  });

  it('refuses a bad sensor id in the metadata', () => {
    const payload = json(status({ sensors: [{ id: 'tc 1', unit: 'C' }] }));
    expectRejected(decodeDeviceStatus(DEVICE, payload), 'schema', '/sensors/0/id');
  });

  it('refuses another device than the topic', () => {
    expectRejected(decodeDeviceStatus('furnace-2', json(status())), 'device_mismatch', '/device');
  });

  it('refuses non-JSON', () => {
    expectRejected(decodeDeviceStatus(DEVICE, 'offline'), 'not_json', '/');
  });
});

describe('decodeSensorsHealth', () => {
  const health = (overrides: Json = {}): Json => ({
    v: 1,
    device: DEVICE,
    ts: 1764340000000,
    sensors: [
      { sensor: 'tc1', state: 'ok', since: 1764330000000 },
      { sensor: 'tc2', state: 'stalled', since: 1764330000000, reason: 'no line for 5 s' },
      { sensor: 'tc3', state: 'disconnected', since: 1764330000000 },
      { sensor: 'mb1', state: 'faulty', since: 1764330000000, reason: 'Modbus exception 2' },
    ],
    ...overrides,
  });

  it('accepts every sensor state', () => {
    expect(expectAccepted(decodeSensorsHealth(DEVICE, json(health())))).toEqual(health());
  });

  it('refuses an unknown sensor state, pointing at it', () => {
    const payload = json(
      health({
        sensors: [
          { sensor: 'tc1', state: 'ok', since: 1 },
          { sensor: 'tc2', state: 'broken', since: 1 },
        ],
      }),
    );
    expectRejected(decodeSensorsHealth(DEVICE, payload), 'schema', '/sensors/1/state');
  });

  it('refuses a missing since', () => {
    const payload = json(health({ sensors: [{ sensor: 'tc1', state: 'ok' }] }));
    expectRejected(decodeSensorsHealth(DEVICE, payload), 'schema', '/sensors/0/since');
  });

  it('refuses another device than the topic', () => {
    expectRejected(decodeSensorsHealth('furnace-2', json(health())), 'device_mismatch', '/device');
  });
});

describe('decodeCommand', () => {
  const base = { v: 1, requestId: 'r', deadline: 1764340000123, requester: 'ops' };
  it('accepts a command with and without args', () => {
    const command = { ...base, requestId: 'req-1', args: { intervalMs: 500 } };
    expect(expectAccepted(decodeCommand(json(command)))).toEqual(command);
    expect(expectAccepted(decodeCommand(Buffer.from(json(base))))).toEqual(base);
  });

  it.each<[string, Json, string]>([
    ['missing requestId', { v: 1, deadline: 1, requester: 'ops' }, '/requestId'],
    ['empty requestId', { ...base, requestId: '' }, '/requestId'],
    ['requestId of 65 characters', { ...base, requestId: 'r'.repeat(65) }, '/requestId'],
    ['numeric requestId', { ...base, requestId: 7 }, '/requestId'],
    ['v = 2', { ...base, v: 2 }, '/v'],
    ['args as an array', { ...base, args: [1] }, '/args'],
    ['no deadline', { v: 1, requestId: 'r', requester: 'ops' }, '/deadline'],
    ['no requester', { v: 1, requestId: 'r', deadline: 1 }, '/requester'],
  ])('refuses %s', (_name, command, path) => {
    expectRejected(decodeCommand(json(command)), 'schema', path);
  });

  it('refuses non-JSON and non-objects', () => {
    expectRejected(decodeCommand('read-now'), 'not_json', '/');
    expectRejected(decodeCommand('null'), 'schema', '/');
  });
});

describe('decodeCommandReply', () => {
  const reply = { v: 1, requestId: 'r', command: 'read-now', outcome: 'ok', data: { value: 812.5 }, ts: 1764340000123 };
  it('accepts ok, refused and failed replies', () => {
    expect(expectAccepted(decodeCommandReply(json(reply)))).toEqual(reply);
    const refused = { ...reply, outcome: 'refused', code: 'AGENT_COMMAND_UNKNOWN', reason: 'no such command: reboot' };
    expect(expectAccepted(decodeCommandReply(json(refused)))).toEqual(refused);
  });
  it.each<[string, Json, string]>([
    ['an unknown outcome', { ...reply, outcome: 'maybe' }, '/outcome'],
    ['no requestId', { ...reply, requestId: undefined }, '/requestId'],
    ['no ts', { ...reply, ts: undefined }, '/ts'],
  ])('refuses %s', (_name, value, path) => {
    expectRejected(decodeCommandReply(json(value)), 'schema', path);
  });
});

describe('decodeStoredConfirmation', () => {
  const stored = (over: Record<string, unknown> = {}): Json => ({
    v: 1,
    device: 'furnace-1',
    ts: 1764340000123,
    boots: [
      {
        boot: 'b1',
        runs: [
          [1, 100],
          [102, 140],
        ],
      },
    ],
    ...over,
  });

  it('accepts runs of stored seq for several boots', () => {
    const value = stored({
      boots: [
        { boot: 'b1', runs: [[1, 1]] },
        { boot: 'b2', runs: [[5, 9]] },
      ],
    });
    expect(expectAccepted(decodeStoredConfirmation('furnace-1', json(value)))).toEqual(value);
  });

  it.each<[string, Json, string]>([
    ['no boots', stored({ boots: [] }), '/boots'],
    ['a boot without runs', stored({ boots: [{ boot: 'b1', runs: [] }] }), '/boots/0/runs'],
    ['a run of one number', stored({ boots: [{ boot: 'b1', runs: [[1]] }] }), '/boots/0/runs/0'],
    ['seq 0', stored({ boots: [{ boot: 'b1', runs: [[0, 4]] }] }), '/boots/0/runs/0/0'],
    [
      'a reversed run',
      stored({
        boots: [
          {
            boot: 'b1',
            runs: [
              [1, 4],
              [9, 7],
            ],
          },
        ],
      }),
      '/boots/0/runs/1',
    ],
    ['a bad boot id', stored({ boots: [{ boot: 'a/b', runs: [[1, 4]] }] }), '/boots/0/boot'],
  ])('refuses %s', (_name, value, path) => {
    expectRejected(decodeStoredConfirmation('furnace-1', json(value)), 'schema', path);
  });

  it('refuses a confirmation naming another device than its topic', () => {
    expectRejected(decodeStoredConfirmation('furnace-2', json(stored())), 'device_mismatch', '/device');
  });
});

describe('formatIssues', () => {
  it('writes one "path message" line per issue', () => {
    expect(
      formatIssues([
        { path: '/readings/0/seq', message: 'Expected integer' },
        { path: '/', message: 'Expected object' },
      ]),
    ).toBe('/readings/0/seq Expected integer\n/ Expected object');
  });

  it('writes nothing for no issues', () => {
    expect(formatIssues([])).toBe('');
  });

  it('formats the issues of a real refusal', () => {
    const result = decodeReadingBatch(DEVICE, json(batch({ readings: [reading({ seq: '1' })] })));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatIssues(result.issues);
    const lines = text.split('\n');
    expect(lines).toHaveLength(result.issues.length);
    expect(lines[0]).toMatch(/^\/readings\/0\/seq \S/);
    lines.forEach((line, i) => expect(line).toBe(`${result.issues[i]?.path} ${result.issues[i]?.message}`));
  });
});
