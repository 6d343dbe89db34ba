import { describe, expect, it } from 'vitest';
import { decodeSensorsHealth, encodePayload } from '../../contract/index.js';
import { SensorHealthBoard } from './sensor-health.js';

describe('SensorHealthBoard', () => {
  it('starts disconnected and tracks each change with its time and reason', () => {
    const board = new SensorHealthBoard('furnace-1', ['tc1', 'tc2'], 1000);
    expect(board.get('tc1')).toEqual({ state: 'disconnected', since: 1000, reason: 'not opened yet' });
    expect(board.set('tc1', 'ok', undefined, 2000)).toBe(true);
    expect(board.set('tc1', 'ok', undefined, 3000)).toBe(false);
    expect(board.set('tc1', 'faulty', 'thermocouple open', 4000)).toBe(true);
    expect(board.set('tc1', 'faulty', 'thermocouple shorted to GND', 5000)).toBe(true);
    expect(board.get('tc1')).toEqual({ state: 'faulty', since: 4000, reason: 'thermocouple shorted to GND' });
    expect(board.get('tc2')?.state).toBe('disconnected');
  });

  it('refuses an unknown sensor', () => {
    const board = new SensorHealthBoard('furnace-1', ['tc1']);
    expect(() => board.set('tc9', 'ok', undefined)).toThrow(/unknown sensor tc9/);
  });

  it('makes a payload that the contract accepts', () => {
    const board = new SensorHealthBoard('furnace-1', ['tc1', 'tc2'], 1000);
    board.set('tc2', 'stalled', 'no data for 5000 ms', 2000);
    const decoded = decodeSensorsHealth('furnace-1', encodePayload(board.payload(3000)));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.value.sensors).toEqual([
      { sensor: 'tc1', state: 'disconnected', since: 1000, reason: 'not opened yet' },
      { sensor: 'tc2', state: 'stalled', since: 2000, reason: 'no data for 5000 ms' },
    ]);
  });
});
