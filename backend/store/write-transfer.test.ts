import { describe, expect, it } from 'vitest';
import type { Reading } from '../../contract/index.js';
import type { BatchToInsert } from './reading-store.js';
import { packBatches, unpackBatches } from './write-transfer.js';

const reading = (seq: number, overrides: Partial<Reading> = {}): Reading => ({
  seq,
  ts: 1_764_340_000_000 + seq,
  sensor: 'tc1',
  value: 800 + seq / 3,
  unit: 'C',
  quality: 'good',
  clock: 'synced',
  replay: false,
  ...overrides,
});

describe('write-transfer', () => {
  it('gives back every batch exactly: nulls, -0, extremes, every quality and clock, replay, shared and odd strings', () => {
    const batches: BatchToInsert[] = [
      {
        batch: {
          v: 1,
          device: 'furnace-1',
          boot: 'b1',
          readings: [
            reading(1),
            reading(2, { value: null, quality: 'bad' }),
            reading(3, { value: -0, quality: 'uncertain', clock: 'unsynced', replay: true }),
            reading(Number.MAX_SAFE_INTEGER, { ts: 8_640_000_000_000_000, value: -1.7976931348623157e308, sensor: 'tc-2', unit: '°C "x"' }),
          ],
        },
        receivedAt: 1_764_340_000_500,
      },
      { batch: { v: 1, device: 'annealer', boot: 'b2', readings: [reading(7, { sensor: 'tc-2', unit: 'mV' })] }, receivedAt: 0 },
    ];
    const { packed, transfer } = packBatches(batches);
    expect(packed.strings).toEqual(['tc1', 'C', 'tc-2', '°C "x"', 'mV']);
    expect(transfer).toHaveLength(8);
    const back = unpackBatches(structuredClone(packed, { transfer }));
    expect(back).toEqual(batches);
    expect(Object.is(back[0]?.batch.readings[2]?.value, -0)).toBe(true);
  });

  it('packs nothing into empty arrays', () => {
    const { packed } = packBatches([]);
    expect(unpackBatches(packed)).toEqual([]);
  });
});
