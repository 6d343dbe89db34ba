import { describe, expect, it } from 'vitest';
import { httpFailure, influxMessage, networkFailure, parseRetryAfter } from './influx-errors.js';

const target = { url: 'http://influx:8086', where: 'database "furnace"' };

describe('InfluxDB errors', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('30')).toBe(30_000);
    expect(parseRetryAfter(new Date(Date.UTC(2026, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(10_000);
    expect([parseRetryAfter(undefined), parseRetryAfter('soon')]).toEqual([undefined, undefined]);
  });

  it('takes the message out of a 1.x or 2.x error body', () => {
    expect(influxMessage('{"error":"database not found: \\"x\\""}')).toBe('database not found: "x"');
    expect(influxMessage('{"code":"unauthorized","message":"unauthorized access"}')).toBe('unauthorized access');
    expect(influxMessage('plain text')).toBe('plain text');
  });

  it('classifies each status, naming the setting to check', () => {
    const cases = [
      [401, 'STORE_INFLUX_UNAUTHORIZED', 'retry', /store\.influx\.token/],
      [403, 'STORE_INFLUX_UNAUTHORIZED', 'retry', /store\.influx\.username/],
      [404, 'STORE_INFLUX_NOT_FOUND', 'retry', /store\.influx\.database/],
      [400, 'STORE_INFLUX_REFUSED', 'refused', /field type conflict/],
      [422, 'STORE_INFLUX_REFUSED', 'refused', /for good/],
      [413, 'STORE_INFLUX_TOO_LARGE', 'split', /store\.influx\.maxBatchBytes/],
      [429, 'STORE_INFLUX_BUSY', 'retry', /wait 7 s \(Retry-After\)/],
      [503, 'STORE_INFLUX_BUSY', 'retry', /busy/],
      [500, 'STORE_INFLUX_FAILED', 'retry', /failed \(500/],
    ] as const;
    for (const [status, code, kind, message] of cases) {
      const error = httpFailure(target, status, '{"error":"x"}', status === 429 ? '7' : null);
      expect({ status, code: error.code, kind: error.kind }).toEqual({ status, code, kind });
      expect(error.message).toMatch(message);
      expect(error.message).toContain('http://influx:8086');
    }
    expect(httpFailure(target, 429, '', '7').retryAfterMs).toBe(7000);
  });

  it('says which setting a connection failure or a timeout points to', () => {
    const refused = networkFailure(target, Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 1000);
    expect(refused).toMatchObject({ code: 'STORE_INFLUX_UNREACHABLE', kind: 'retry' });
    expect(refused.message).toBe('InfluxDB at http://influx:8086 does not answer: ECONNREFUSED (store.influx.url)');
    const slow = networkFailure(target, Object.assign(new Error('timeout'), { name: 'TimeoutError' }), 1000);
    expect(slow.message).toContain('no answer within 1000 ms (store.influx.timeoutMs)');
  });
});
