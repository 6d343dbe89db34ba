import { describe, expect, it } from 'vitest';
import {
  type Json,
  batch,
  expectAccepted,
  expectRejected,
  json,
  reading,
  readings,
  without,
  DEVICE,
} from '../test/helpers/codec-fixtures.js';
import {
  MAX_PAYLOAD_BYTES,
  MAX_READINGS_PER_BATCH,
  REJECT_CAUSES,
  decodeCommand,
  decodeDeviceStatus,
  decodeReadingBatch,
  decodeSensorsHealth,
  encodePayload,
} from './index.js';

describe('decodeReadingBatch: valid batches', () => {
  it('accepts the example of DESIGN.md as a string', () => {
    const value = expectAccepted(decodeReadingBatch(DEVICE, json(batch())));
    expect(value).toEqual(batch());
  });

  it('accepts it as a Buffer and as a plain Uint8Array', () => {
    expect(expectAccepted(decodeReadingBatch(DEVICE, Buffer.from(json(batch()))))).toEqual(batch());
    const bytes = new TextEncoder().encode(json(batch()));
    expect(expectAccepted(decodeReadingBatch(DEVICE, bytes))).toEqual(batch());
  });

  it('accepts what encodePayload produces', () => {
    const payload = encodePayload({ v: 1, device: DEVICE, boot: 'b1', readings: readings(3) });
    expect(Buffer.isBuffer(payload)).toBe(true);
    expect(expectAccepted(decodeReadingBatch(DEVICE, payload)).readings.map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('accepts every quality, clock state and replay flag', () => {
    const value = expectAccepted(
      decodeReadingBatch(
        DEVICE,
        json(
          batch({
            readings: [
              reading({ seq: 1, quality: 'good', clock: 'synced', replay: false }),
              reading({ seq: 2, quality: 'uncertain', clock: 'unsynced', replay: true, value: -40 }),
              reading({ seq: 3, quality: 'bad', clock: 'synced', value: 0 }),
            ],
          }),
        ),
      ),
    );
    expect(value.readings.map((r) => r.quality)).toEqual(['good', 'uncertain', 'bad']);
  });

  it('accepts exactly MAX_READINGS_PER_BATCH readings', () => {
    expect(MAX_READINGS_PER_BATCH).toBe(1000);
    const value = expectAccepted(decodeReadingBatch(DEVICE, json(batch({ readings: readings(MAX_READINGS_PER_BATCH) }))));
    expect(value.readings).toHaveLength(MAX_READINGS_PER_BATCH);
  });

  it('accepts a bad reading with a null value', () => {
    const value = expectAccepted(decodeReadingBatch(DEVICE, json(batch({ readings: [reading({ quality: 'bad', value: null })] }))));
    expect(value.readings[0]?.value).toBeNull();
  });

  it('accepts seq gaps, as long as seq grows', () => {
    expectAccepted(decodeReadingBatch(DEVICE, json(batch({ readings: [reading({ seq: 1 }), reading({ seq: 900 })] }))));
  });

  it('accepts the boundaries of seq and ts', () => {
    expectAccepted(decodeReadingBatch(DEVICE, json(batch({ readings: [reading({ seq: 1, ts: 0 })] }))));
    expectAccepted(decodeReadingBatch(DEVICE, json(batch({ readings: [reading({ seq: Number.MAX_SAFE_INTEGER })] }))));
  });

  it('accepts a payload of exactly maxBytes', () => {
    const payload = json(batch());
    expectAccepted(decodeReadingBatch(DEVICE, payload, Buffer.byteLength(payload)));
  });
});

describe('decodeReadingBatch: not JSON', () => {
  it.each([
    ['truncated', '{"v":1,'],
    ['empty', ''],
    ['plain text', 'hello'],
    ['single quotes', "{'v':1}"],
    ['trailing comma', '{"v":1,}'],
    ['NaN', '{"v":NaN}'],
  ])('%s', (_name, payload) => {
    expectRejected(decodeReadingBatch(DEVICE, payload), 'not_json', '/');
    expectRejected(decodeReadingBatch(DEVICE, Buffer.from(payload)), 'not_json', '/');
  });

  it('refuses invalid UTF-8 instead of storing replacement characters', () => {
    const valid = Buffer.from('{"v":1,"unit":"C"}');
    const broken = Buffer.concat([valid.subarray(0, 15), Buffer.from([0xff]), valid.subarray(15)]);
    expectRejected(decodeReadingBatch(DEVICE, broken), 'not_json', '/');
  });
});

describe('decodeReadingBatch: too large', () => {
  it('refuses a payload over a small maxBytes before parsing it', () => {
    const payload = json(batch());
    const size = Buffer.byteLength(payload);
    const result = decodeReadingBatch(DEVICE, payload, size - 1);
    expectRejected(result, 'too_large', '/');
    if (!result.ok) expect(result.issues[0]?.message).toBe(`payload of ${size} bytes exceeds ${size - 1}`);
    // Not JSON either, but size is checked first.
    expectRejected(decodeReadingBatch(DEVICE, 'x'.repeat(11), 10), 'too_large', '/');
    expectRejected(decodeReadingBatch(DEVICE, Buffer.alloc(11), 10), 'too_large', '/');
  });

  it('counts bytes, not characters', () => {
    const payload = json(batch({ boot: 'b', readings: [reading({ unit: '°C' })] }));
    const chars = payload.length;
    expect(Buffer.byteLength(payload)).toBe(chars + 1);
    expectRejected(decodeReadingBatch(DEVICE, payload, chars), 'too_large', '/');
    expectAccepted(decodeReadingBatch(DEVICE, payload, chars + 1));
  });

  it('refuses 1 MB of junk with the default limit', () => {
    expect(MAX_PAYLOAD_BYTES).toBe(512 * 1024);
    const junk = 'x'.repeat(1024 * 1024);
    expectRejected(decodeReadingBatch(DEVICE, junk), 'too_large', '/');
    expectRejected(decodeReadingBatch(DEVICE, Buffer.from(junk)), 'too_large', '/');
    expectRejected(decodeDeviceStatus(DEVICE, junk), 'too_large', '/');
    expectRejected(decodeSensorsHealth(DEVICE, junk), 'too_large', '/');
    expectRejected(decodeCommand(junk), 'too_large', '/');
  });

  it('accepts a payload just under the default limit if it is valid', () => {
    // Pad with JSON whitespace to MAX_PAYLOAD_BYTES exactly.
    const core = json(batch());
    const payload = core + ' '.repeat(MAX_PAYLOAD_BYTES - Buffer.byteLength(core));
    expect(Buffer.byteLength(payload)).toBe(MAX_PAYLOAD_BYTES);
    expectAccepted(decodeReadingBatch(DEVICE, payload));
    expectRejected(decodeReadingBatch(DEVICE, payload + ' '), 'too_large', '/');
  });
});

describe('decodeReadingBatch: schema', () => {
  it('refuses an empty readings array', () => {
    expectRejected(decodeReadingBatch(DEVICE, json(batch({ readings: [] }))), 'schema', '/readings');
  });

  it('refuses more than MAX_READINGS_PER_BATCH readings', () => {
    const payload = json(batch({ readings: readings(MAX_READINGS_PER_BATCH + 1) }));
    expectRejected(decodeReadingBatch(DEVICE, payload), 'schema', '/readings');
  });

  it.each(['v', 'device', 'boot', 'readings'])('refuses a batch without %s', (field) => {
    expectRejected(decodeReadingBatch(DEVICE, json(without(batch(), field))), 'schema', `/${field}`);
  });

  it.each(['seq', 'ts', 'sensor', 'value', 'unit', 'quality', 'clock', 'replay'])('refuses a reading without %s', (field) => {
    const payload = json(batch({ readings: [reading({ seq: 1 }), without(reading({ seq: 2 }), field)] }));
    expectRejected(decodeReadingBatch(DEVICE, payload), 'schema', `/readings/1/${field}`);
  });

  it.each<[string, Json]>([
    ['seq as a string', { seq: '1042' }],
    ['negative seq', { seq: -1 }],
    ['zero seq', { seq: 0 }],
    ['fractional seq', { seq: 1.5 }],
    ['seq past MAX_SAFE_INTEGER', { seq: Number.MAX_SAFE_INTEGER + 1 }],
    ['seq null', { seq: null }],
  ])('refuses %s', (_name, override) => {
    expectRejected(decodeReadingBatch(DEVICE, json(batch({ readings: [reading(override)] }))), 'schema', '/readings/0/seq');
  });

  it.each<[string, Json]>([
    ['non-integer ts', { ts: 1764340000123.5 }],
    ['ts as a string', { ts: '1764340000123' }],
    ['negative ts', { ts: -1 }],
    ['ts past the Date range', { ts: 8_640_000_000_000_001 }],
  ])('refuses %s', (_name, override) => {
    expectRejected(decodeReadingBatch(DEVICE, json(batch({ readings: [reading(override)] }))), 'schema', '/readings/0/ts');
  });

  it.each<[string, Json, string]>([
    ['value as a string', { value: '812.5' }, 'value'],
    ['value as a boolean', { value: true }, 'value'],
    ['sensor with a slash', { sensor: 'tc/1' }, 'sensor'],
    ['empty sensor', { sensor: '' }, 'sensor'],
    ['empty unit', { unit: '' }, 'unit'],
    ['unit of 17 characters', { unit: 'u'.repeat(17) }, 'unit'],
    ['replay as a string', { replay: 'false' }, 'replay'],
    ['quality not in the enum', { quality: 'excellent' }, 'quality'],
    ['quality in the wrong case', { quality: 'GOOD' }, 'quality'],
    ['clock not in the enum', { clock: 'ntp' }, 'clock'],
    ['clock as a boolean', { clock: true }, 'clock'],
  ])('refuses %s', (_name, override, field) => {
    const payload = json(batch({ readings: [reading(override)] }));
    expectRejected(decodeReadingBatch(DEVICE, payload), 'schema', `/readings/0/${field}`);
  });

  it('refuses an infinite value written as an overflowing number', () => {
    const payload = json(batch()).replace('812.5', '1e400');
    expect(payload).toContain('1e400');
    expectRejected(decodeReadingBatch(DEVICE, payload), 'schema', '/readings/0/value');
  });

  it.each([2, 0, '1', null, 1.0001])('refuses v = %j', (v) => {
    expectRejected(decodeReadingBatch(DEVICE, json(batch({ v }))), 'schema', '/v');
  });

  it.each(['furnace 1', 'furnace/1', 'furnace+', '#', 'fürnace', '', 'x'.repeat(65), 7])(
    'refuses the device id %j in the payload',
    (device) => {
      expectRejected(decodeReadingBatch(DEVICE, json(batch({ device }))), 'schema', '/device');
    },
  );

  it.each(['', 'boot id', 'b/1'])('refuses the boot id %j', (boot) => {
    expectRejected(decodeReadingBatch(DEVICE, json(batch({ boot }))), 'schema', '/boot');
  });

  it.each<[string, string]>([
    ['an array', '[]'],
    ['an array of batches', json([batch()])],
    ['a number', '42'],
    ['null', 'null'],
    ['a string', '"furnace-1"'],
    ['a boolean', 'true'],
  ])('refuses JSON that is %s', (_name, payload) => {
    expectRejected(decodeReadingBatch(DEVICE, payload), 'schema', '/');
  });

  it('refuses readings that are not an array', () => {
    expectRejected(decodeReadingBatch(DEVICE, json(batch({ readings: reading() }))), 'schema', '/readings');
    expectRejected(decodeReadingBatch(DEVICE, json(batch({ readings: [42] }))), 'schema', '/readings/0');
  });

  it('reports several issues at once, each with its path', () => {
    const result = decodeReadingBatch(DEVICE, json(batch({ v: 2, readings: [reading({ seq: 'x', quality: 'meh' })] })));
    expectRejected(result, 'schema', '/v');
    expectRejected(result, 'schema', '/readings/0/seq');
    expectRejected(result, 'schema', '/readings/0/quality');
  });

  it('bounds the number of issues for junk', () => {
    const junk = Array.from({ length: 500 }, () => ({ seq: 'x', ts: 'y', quality: 'z' }));
    const result = decodeReadingBatch(DEVICE, json(batch({ readings: junk })));
    expectRejected(result, 'schema', '/readings/0/seq');
    if (!result.ok) expect(result.issues.length).toBeLessThanOrEqual(20);
  });
});

describe('decodeReadingBatch: rules beyond the schema', () => {
  it('refuses a payload naming another device than its topic', () => {
    const result = decodeReadingBatch('furnace-2', json(batch()));
    expectRejected(result, 'device_mismatch', '/device');
    if (!result.ok) {
      expect(result.issues[0]?.message).toContain('"furnace-1"');
      expect(result.issues[0]?.message).toContain('"furnace-2"');
    }
  });

  it('compares device ids exactly (case matters)', () => {
    expectRejected(decodeReadingBatch('Furnace-1', json(batch())), 'device_mismatch', '/device');
  });

  it('checks the schema before the device', () => {
    expectRejected(decodeReadingBatch('furnace-2', json(batch({ v: 2 }))), 'schema', '/v');
  });

  it('refuses an equal seq', () => {
    const payload = json(batch({ readings: [reading({ seq: 5 }), reading({ seq: 5 })] }));
    expectRejected(decodeReadingBatch(DEVICE, payload), 'seq_order', '/readings/1/seq');
  });

  it('refuses a decreasing seq, pointing at the reading that goes back', () => {
    const payload = json(batch({ readings: [reading({ seq: 1 }), reading({ seq: 7 }), reading({ seq: 3 })] }));
    const result = decodeReadingBatch(DEVICE, payload);
    expectRejected(result, 'seq_order', '/readings/2/seq');
    if (!result.ok) {
      expect(result.issues).toHaveLength(1);
      expect(result.issues[0]?.message).toContain('seq 3 does not follow 7');
    }
  });

  it.each(['good', 'uncertain'])('refuses a %s reading with a null value', (quality) => {
    const payload = json(batch({ readings: [reading({ seq: 1 }), reading({ seq: 2, quality, value: null })] }));
    expectRejected(decodeReadingBatch(DEVICE, payload), 'value_quality', '/readings/1/value');
  });

  it('names every cause in REJECT_CAUSES', () => {
    expect([...REJECT_CAUSES].sort()).toEqual(['device_mismatch', 'not_json', 'schema', 'seq_order', 'too_large', 'value_quality'].sort());
  });
});
