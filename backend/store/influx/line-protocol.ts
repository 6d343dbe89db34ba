import { escape } from '@influxdata/influxdb-client';
import type { Reading } from '../../../contract/index.js';

// One reading as one point of InfluxDB line protocol:
//   readings,boot=<boot>,device=<device>,sensor=<sensor> value=<float>,seq=<int>i,unit="...",quality="...",
//     clock="...",replay=<bool>,receivedAt=<int>i <time in ns>
//
// Tags: device, sensor and boot. A point is identified by measurement + tag set + time, and a second
// point with the same key overwrites the first, so the key must tell every reading apart:
// - boot is a tag because two boots of one agent may send the same seq at the same ms (an agent whose
//   outbox was wiped starts at seq 1 again);
// - the time is the reading's ts in ms plus (seq mod 10^6) ns: truncated to ms, as every query of the
//   backend asks for it (epoch=ms), it is ts exactly, while two readings of one sensor in one boot
//   with the same ts (a clock stepped back by NTP, two reads within a ms) still get different times.
//   Two readings collide only with the same device, sensor, boot and ms and seqs a multiple of 10^6 apart.
// A write that is sent again (a retry after a timeout, a replay) builds the very same key, so it
// overwrites itself instead of doubling.
//
// Escaping (line protocol reference, "Special characters"): the client's `escape.tag` for tag values
// (comma, space, equals sign, and \n \r \t), `escape.quoted` for string fields (double quote, backslash).
// Device, sensor and boot ids are 1 to 64 of A-Z a-z 0-9 _ - by contract, so they never need it today;
// the unit is any string of 1 to 16 characters and does.

export const MEASUREMENT = 'readings';
/** Nanoseconds of sub-millisecond offset taken from seq. */
export const SEQ_NS_MODULUS = 1_000_000;

export function pointTimeNs(ts: number, seq: number): bigint {
  return BigInt(ts) * 1_000_000n + BigInt(seq % SEQ_NS_MODULUS);
}

/** A float field: a JS number prints as a float line protocol accepts (`1.7e+308`, `800`, `-0.5`); never an integer suffix. */
function float(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return String(value);
}

export function readingLine(device: string, boot: string, reading: Reading, receivedAt: number): string {
  const tags = `${MEASUREMENT},boot=${escape.tag(boot)},device=${escape.tag(device)},sensor=${escape.tag(reading.sensor)}`;
  const fields = [
    // A bad reading carries no value: the field is left out, so InfluxQL's aggregates skip it.
    ...(reading.value === null ? [] : [`value=${float(reading.value)}`]),
    `seq=${Math.trunc(reading.seq)}i`,
    `unit=${escape.quoted(reading.unit)}`,
    `quality=${escape.quoted(reading.quality)}`,
    `clock=${escape.quoted(reading.clock)}`,
    `replay=${reading.replay ? 'true' : 'false'}`,
    `receivedAt=${Math.trunc(receivedAt)}i`,
  ];
  return `${tags} ${fields.join(',')} ${pointTimeNs(reading.ts, reading.seq)}`;
}
