import type { AggregatePage, AggregatePoint } from './reading-store.js';

/**
 * An aggregate page as it crosses from a query worker to the main thread: columns in typed arrays
 * whose buffers are transferred, not copied, and each sensor name once. Cloning a page of 1440
 * point objects cost about a millisecond on each side of the hop; this costs a few microseconds,
 * and the main thread makes the point objects in one tight loop.
 */
export interface PackedAggregatePage {
  packed: 'aggregate';
  sensors: string[];
  sensorOf: Uint32Array;
  buckets: Float64Array;
  values: Float64Array;
  counts: Float64Array;
  truncated: boolean;
  next: AggregatePage['next'];
  source: AggregatePage['source'];
}

export function packAggregatePage(page: AggregatePage): { packed: PackedAggregatePage; transfer: ArrayBuffer[] } {
  const n = page.items.length;
  const sensors: string[] = [];
  const index = new Map<string, number>();
  const packed: PackedAggregatePage = {
    packed: 'aggregate',
    sensors,
    sensorOf: new Uint32Array(n),
    buckets: new Float64Array(n),
    values: new Float64Array(n),
    counts: new Float64Array(n),
    truncated: page.truncated,
    next: page.next,
    source: page.source,
  };
  for (let i = 0; i < n; i++) {
    const { sensor, bucket, value, count } = page.items[i] as AggregatePoint;
    let s = index.get(sensor);
    if (s === undefined) {
      s = sensors.push(sensor) - 1;
      index.set(sensor, s);
    }
    packed.sensorOf[i] = s;
    packed.buckets[i] = bucket;
    packed.values[i] = value;
    packed.counts[i] = count;
  }
  // Typed arrays made here own plain ArrayBuffers (never shared ones).
  const transfer = [packed.sensorOf, packed.buckets, packed.values, packed.counts].map((column) => column.buffer as ArrayBuffer);
  return { packed, transfer };
}

export function unpackAggregatePage(packed: PackedAggregatePage): AggregatePage {
  const n = packed.buckets.length;
  const items = new Array<AggregatePoint>(n);
  for (let i = 0; i < n; i++) {
    items[i] = {
      sensor: packed.sensors[packed.sensorOf[i] ?? 0] ?? '',
      bucket: packed.buckets[i] ?? 0,
      value: packed.values[i] ?? 0,
      count: packed.counts[i] ?? 0,
    };
  }
  const page: AggregatePage = { items, truncated: packed.truncated, source: packed.source };
  if (packed.next !== undefined) page.next = packed.next;
  return page;
}
