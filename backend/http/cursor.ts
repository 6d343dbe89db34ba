import { createHash } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { AggregatePosition, RawPosition } from '../store/reading-store.js';

// Cursors are opaque to clients: base64url of a small JSON position, plus a fingerprint of the
// query it belongs to, so a cursor replayed with other parameters is refused instead of
// silently answering something else. The readings routes (raw, aggregate, gap pages) and the
// alert history use this one codec.

interface Positions {
  raw: RawPosition;
  agg: AggregatePosition;
  gap: { boot: string; fromSeq: number };
  /** The alert history: the seq to continue below. */
  alert: { before: number };
}
type Position = { [K in keyof Positions]: { k: K; p: Positions[K] } }[keyof Positions];

/** The parameters that define a query's answer: device, sensor, range, bucket... */
export function fingerprint(parts: ReadonlyArray<string | number | undefined>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeCursor(position: Position, query: string): string {
  return Buffer.from(JSON.stringify({ ...position, q: query })).toString('base64url');
}

/** The field of the page that carries the next cursor, which the refusal tells the client to pass back. */
const NEXT_FIELD: Record<keyof Positions, string> = { raw: 'nextCursor', agg: 'nextCursor', gap: 'nextCursor', alert: 'next' };

function invalid(kind: keyof Positions): ApiError {
  return new ApiError(
    'API_BAD_REQUEST',
    `cursor: not a cursor of this query (pass ${NEXT_FIELD[kind]} back with the same other parameters)`,
  );
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isInt = (value: unknown): value is number => Number.isSafeInteger(value);

export function decodeCursor<K extends keyof Positions>(raw: string, kind: K, query: string): Positions[K] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid(kind);
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid(kind);
  const { k, p, q } = parsed as { k?: unknown; p?: Record<string, unknown>; q?: unknown };
  if (k !== kind || q !== query || typeof p !== 'object' || p === null) throw invalid(kind);
  const valid =
    (kind === 'raw' && isInt(p.ts) && isString(p.sensor) && isString(p.boot) && isInt(p.seq)) ||
    (kind === 'agg' && isInt(p.bucket) && isString(p.sensor)) ||
    (kind === 'gap' && isString(p.boot) && isInt(p.fromSeq)) ||
    (kind === 'alert' && isInt(p.before) && p.before >= 1);
  if (!valid) throw invalid(kind);
  return p as unknown as Positions[K];
}
