import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceStatus } from '../../contract/index.js';
import { DeviceRegistry } from './device-registry.js';

const status = (state: 'online' | 'offline', ts: number, extra: Partial<DeviceStatus> = {}): DeviceStatus => ({ v: 1, device: 'furnace-1', state, ts, ...extra });

describe('DeviceRegistry', () => {
  let dir: string;
  let registry: DeviceRegistry;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'registry-test-'));
    registry = new DeviceRegistry(dir);
  });
  afterEach(() => {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the newest status: an older one resent on re-subscription does not win, a will with the same time does', () => {
    registry.putStatus(status('online', 2000, { boot: 'b2', agentVersion: '1.0.0', sensors: [{ id: 'tc1', unit: 'C' }] }), 2001);
    registry.putStatus(status('online', 1000, { boot: 'b1' }), 3000);
    expect(registry.get('furnace-1')?.status).toEqual({ state: 'online', ts: 2000, receivedAt: 2001, boot: 'b2', agentVersion: '1.0.0', sensors: [{ id: 'tc1', unit: 'C' }] });
    // The agent's will carries the time it connected: the same as its birth.
    registry.putStatus(status('offline', 2000), 9000);
    expect(registry.get('furnace-1')?.status).toMatchObject({ state: 'offline', ts: 2000, receivedAt: 9000, sensors: [] });
  });

  it('keeps the newest sensor-health report, and forgets what an empty retained message cleared', () => {
    const report = (ts: number, state: 'ok' | 'stalled') => ({ v: 1 as const, device: 'furnace-1', ts, sensors: [{ sensor: 'tc1', state, since: ts }] });
    registry.putSensorsHealth(report(2000, 'stalled'));
    registry.putSensorsHealth(report(1000, 'ok'));
    expect(registry.get('furnace-1')).toMatchObject({ sensorHealthTs: 2000, sensorHealth: [{ sensor: 'tc1', state: 'stalled', since: 2000 }] });
    registry.putStatus(status('online', 1), 1);
    registry.forgetSensorsHealth('furnace-1');
    expect(registry.get('furnace-1')).toMatchObject({ sensorHealth: [], sensorHealthTs: undefined });
    registry.forgetStatus('furnace-1');
    expect(registry.get('furnace-1')).toBeUndefined();
    expect(registry.list()).toEqual([]);
  });

  it('keeps what it knows across a restart', () => {
    registry.putStatus(status('online', 5), 6);
    registry.close();
    registry = new DeviceRegistry(dir);
    expect(registry.list().map((entry) => [entry.device, entry.status?.state])).toEqual([['furnace-1', 'online']]);
  });
});
