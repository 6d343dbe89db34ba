import { describe, expect, it } from 'vitest';
import { MAX_COMMAND_MS, MAX_REQUEST_BYTES, UNSYNCED_COMMAND_MS, commandBudgetMs, isExpired, readRequest } from './request.js';

const T0 = 1_800_000_000_000;

describe('command requests', () => {
  it('reads a request, a malformed one that names a requestId, and junk that names none', () => {
    const good = { v: 1, requestId: 'r1', deadline: T0, requester: 'ops', args: { sensor: 'tc1' } };
    expect(readRequest(Buffer.from(JSON.stringify(good)))).toEqual({ kind: 'ok', request: good });
    expect(readRequest(Buffer.from(JSON.stringify({ ...good, v: 2 })))).toMatchObject({
      kind: 'malformed',
      requestId: 'r1',
      reason: expect.stringMatching(/^\/v /) as string,
    });
    expect(readRequest(Buffer.from(JSON.stringify({ ...good, requestId: 'x'.repeat(65) })))).toMatchObject({
      kind: 'unreadable',
      cause: 'schema',
    });
    expect(readRequest(Buffer.from([0xff, 0xfe]))).toMatchObject({ kind: 'unreadable', cause: 'not_json' });
    const huge = Buffer.from(JSON.stringify({ ...good, requester: 'x'.repeat(MAX_REQUEST_BYTES) }));
    expect(readRequest(huge)).toMatchObject({ kind: 'unreadable', cause: 'too_large' });
  });

  it('judges a deadline only by a synchronised clock', () => {
    expect(isExpired(T0, T0 + 1, 'synced')).toBe(true);
    expect(isExpired(T0, T0, 'synced')).toBe(false);
    expect(isExpired(T0, T0 + 3_600_000, 'unsynced')).toBe(false);
  });

  it('gives a command until its deadline, bounded, and a fixed time when an unsynced clock says it has passed', () => {
    expect(commandBudgetMs(T0 + 2500, T0, 'synced')).toBe(2500);
    expect(commandBudgetMs(T0 + 3_600_000, T0, 'synced')).toBe(MAX_COMMAND_MS);
    expect(commandBudgetMs(T0 + 2500, T0, 'unsynced')).toBe(2500);
    expect(commandBudgetMs(T0 - 3_600_000, T0, 'unsynced')).toBe(UNSYNCED_COMMAND_MS);
    expect(commandBudgetMs(T0 + 3_600_000, T0, 'unsynced')).toBe(MAX_COMMAND_MS);
  });
});
