import type { AggregatePoint } from '../store/reading-store.js';
import type { BandPoint } from './band-aggregate.js';

// The body of an aggregate page, written as JSON text here rather than by fastify's serializer
// (fast-json-stringify, compiled from ReadingsPage). A day of minutes is 1,440 points, and the
// profile of `npm run bench query` showed the generic serializer of those point objects as about a
// millisecond per answer, as much as reading the rollup rows out of SQLite. Every number comes from
// SQLite as a finite double (the aggregates leave out values past ±1e12, so no sum overflows) and
// a template writes it as JSON.stringify does; the text is byte for byte the one the serializer wrote,
// keys in its order: the required properties of ReadingsPage first, then the optional ones, each
// group in the schema's order. The route schema still documents the answer (OpenAPI).

/** The fields besides `points` and `nextCursor`; an `undefined` sensor is left out, as fastify does. */
export interface AggregatePageHead {
  device: string;
  sensor: string | undefined;
  from: number;
  to: number;
  every: number;
  agg: string;
  source: string;
  truncated: boolean;
}

export function aggregatePageJson(
  head: AggregatePageHead,
  points: ReadonlyArray<AggregatePoint | BandPoint>,
  nextCursor: string | undefined,
): string {
  const { device, from, to, source, truncated, sensor, every, agg } = head;
  const start = JSON.stringify({ device, from, to, source, truncated, sensor, every, agg });
  const tail = nextCursor === undefined ? '}' : `,"nextCursor":${JSON.stringify(nextCursor)}}`;
  return `${start.slice(0, -1)},"points":[${pointsJson(points)}]${tail}`;
}

/** As JSON.stringify writes a number: `null` for one that is not finite (none should reach here). */
const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

function pointsJson(points: ReadonlyArray<AggregatePoint | BandPoint>): string {
  // Sensor names repeat on every point; each is escaped once.
  const prefixes = new Map<string, string>();
  let text = '';
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as AggregatePoint | BandPoint;
    let prefix = prefixes.get(p.sensor);
    if (prefix === undefined) prefixes.set(p.sensor, (prefix = `{"sensor":${JSON.stringify(p.sensor)},"t":`));
    const band = 'min' in p ? `,"min":${finite(p.min)},"max":${finite(p.max)}` : '';
    text += `${i === 0 ? '' : ','}${prefix}${p.bucket},"value":${finite(p.value)},"count":${p.count}${band}}`;
  }
  return text;
}
