import type { ClockState, Quality, Reading } from '../../contract/index.js';
import type { BatchToInsert } from './reading-store.js';

// How batches cross to the writer thread (write-thread.ts). postMessage would otherwise
// structured-clone every reading object, a cost on the main thread proportional to the readings,
// which is the thread the writer was moved off to spare. Here the numbers go in typed arrays
// whose buffers are transferred (moved, not copied), and the few distinct strings (sensors,
// units) in one small table; the writer thread rebuilds the objects on its own time.

const QUALITIES: readonly Quality[] = ['good', 'uncertain', 'bad'];
const CLOCKS: readonly ClockState[] = ['synced', 'unsynced'];
const QUALITY_BITS: Readonly<Record<Quality, number>> = { good: 0, uncertain: 1, bad: 2 };
const UNSYNCED = 4;
const REPLAY = 8;

export interface PackedBatches {
  /** Per batch. */
  devices: string[];
  boots: string[];
  receivedAt: Float64Array;
  counts: Uint32Array;
  /** Per reading, batch after batch. `value` NaN is null (JSON has no NaN, so no reading is NaN). */
  seq: Float64Array;
  ts: Float64Array;
  value: Float64Array;
  /** quality (2 bits) | unsynced (4) | replay (8). */
  flags: Uint8Array;
  /** Indexes into `strings`. */
  sensor: Uint32Array;
  unit: Uint32Array;
  strings: string[];
}

export function packBatches(batches: readonly BatchToInsert[]): { packed: PackedBatches; transfer: ArrayBuffer[] } {
  let total = 0;
  for (const { batch } of batches) total += batch.readings.length;
  const packed: PackedBatches = {
    devices: new Array<string>(batches.length),
    boots: new Array<string>(batches.length),
    receivedAt: new Float64Array(batches.length),
    counts: new Uint32Array(batches.length),
    seq: new Float64Array(total),
    ts: new Float64Array(total),
    value: new Float64Array(total),
    flags: new Uint8Array(total),
    sensor: new Uint32Array(total),
    unit: new Uint32Array(total),
    strings: [],
  };
  const index = new Map<string, number>();
  const stringIndex = (text: string) => {
    let at = index.get(text);
    if (at === undefined) index.set(text, (at = packed.strings.push(text) - 1));
    return at;
  };
  let i = 0;
  batches.forEach(({ batch, receivedAt }, b) => {
    packed.devices[b] = batch.device;
    packed.boots[b] = batch.boot;
    packed.receivedAt[b] = receivedAt;
    packed.counts[b] = batch.readings.length;
    for (const r of batch.readings) {
      packed.seq[i] = r.seq;
      packed.ts[i] = r.ts;
      packed.value[i] = r.value ?? Number.NaN;
      packed.flags[i] = QUALITY_BITS[r.quality] | (r.clock === 'unsynced' ? UNSYNCED : 0) | (r.replay ? REPLAY : 0);
      packed.sensor[i] = stringIndex(r.sensor);
      packed.unit[i] = stringIndex(r.unit);
      i++;
    }
  });
  const { receivedAt, counts, seq, ts, value, flags, sensor, unit } = packed;
  return { packed, transfer: [receivedAt, counts, seq, ts, value, flags, sensor, unit].map((array) => array.buffer as ArrayBuffer) };
}

export function unpackBatches(packed: PackedBatches): BatchToInsert[] {
  const { strings } = packed;
  const batches = new Array<BatchToInsert>(packed.devices.length);
  let i = 0;
  for (let b = 0; b < batches.length; b++) {
    const count = packed.counts[b] ?? 0;
    const readings = new Array<Reading>(count);
    for (let n = 0; n < count; n++, i++) {
      const flags = packed.flags[i] ?? 0;
      const value = packed.value[i] ?? Number.NaN;
      readings[n] = {
        seq: packed.seq[i] ?? 0,
        ts: packed.ts[i] ?? 0,
        sensor: strings[packed.sensor[i] ?? 0] ?? '',
        value: Number.isNaN(value) ? null : value,
        unit: strings[packed.unit[i] ?? 0] ?? '',
        quality: QUALITIES[flags & 3] ?? 'bad',
        clock: CLOCKS[flags & UNSYNCED ? 1 : 0] ?? 'synced',
        replay: (flags & REPLAY) !== 0,
      };
    }
    batches[b] = {
      batch: { v: 1, device: packed.devices[b] ?? '', boot: packed.boots[b] ?? '', readings },
      receivedAt: packed.receivedAt[b] ?? 0,
    };
  }
  return batches;
}
