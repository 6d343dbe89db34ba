import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, fingerprint } from './cursor.js';

describe('cursor codec', () => {
  const query = fingerprint(['alerts', 'firing', 'oven-1', 0, 1000]);

  it('gives back the position it encoded, for the query it was made for', () => {
    const raw = encodeCursor({ k: 'raw', p: { ts: 5, sensor: 'tc1', boot: 'b1', seq: 9 } }, query);
    expect(decodeCursor(raw, 'raw', query)).toEqual({ ts: 5, sensor: 'tc1', boot: 'b1', seq: 9 });
    const alert = encodeCursor({ k: 'alert', p: { before: 42 } }, query);
    expect(decodeCursor(alert, 'alert', query)).toEqual({ before: 42 });
  });

  it('refuses a cursor of another query or kind, garbage, or a bad position, naming the field to pass back', () => {
    const alert = encodeCursor({ k: 'alert', p: { before: 42 } }, query);
    const other = fingerprint(['alerts', 'resolved', 'oven-1', 0, 1000]);
    const refusal = /^cursor: not a cursor of this query \(pass next back/;
    expect(() => decodeCursor(alert, 'alert', other)).toThrow(refusal);
    expect(() => decodeCursor('abc', 'alert', query)).toThrow(refusal);
    expect(() => decodeCursor(encodeCursor({ k: 'alert', p: { before: 0 } }, query), 'alert', query)).toThrow(refusal);
    expect(() => decodeCursor(alert, 'gap', query)).toThrow(/pass nextCursor back/);
    expect(() => decodeCursor(alert, 'gap', query)).toThrow(expect.objectContaining({ code: 'API_BAD_REQUEST' }));
  });

  it('encodes exactly as the alert history always did, so cursors handed out before still work', () => {
    const before = Buffer.from(JSON.stringify({ k: 'alert', p: { before: 7 }, q: query })).toString('base64url');
    expect(encodeCursor({ k: 'alert', p: { before: 7 } }, query)).toBe(before);
  });
});
