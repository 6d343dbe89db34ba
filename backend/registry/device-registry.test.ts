import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceStatus } from '../../contract/index.js';
import { DeviceRegistry, REGISTRY_FILE } from './device-registry.js';

const status = (state: 'online' | 'offline', ts: number, extra: Partial<DeviceStatus> = {}): DeviceStatus => ({
  v: 1,
  device: 'furnace-1',
  state,
  ts,
  ...extra,
});

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

  const stateOf = () => registry.get('furnace-1')?.status?.state;

  it('keeps the newest status: one of an older boot resent on re-subscription does not win', () => {
    expect(
      registry.putStatus(status('online', 2000, { boot: 'b2', agentVersion: '1.0.0', sensors: [{ id: 'tc1', unit: 'C' }] }), 2001),
    ).toBe(true);
    expect(registry.putStatus(status('online', 1000, { boot: 'b1' }), 3000)).toBe(false);
    expect(registry.putStatus(status('offline', 900, { boot: 'b1' }), 3000)).toBe(false);
    expect(registry.get('furnace-1')?.status).toEqual({
      state: 'online',
      ts: 2000,
      receivedAt: 2001,
      boot: 'b2',
      agentVersion: '1.0.0',
      sensors: [{ id: 'tc1', unit: 'C' }],
    });
  });

  // Connection 1 of boot b1 is attempted at 1000 (its will's time) and publishes its birth at 1050;
  // connection 2 at 3000 and 3040. A will is older than the birth it follows.
  it('takes the will of the current connection although it is older than the birth (kill -9 of the agent)', () => {
    registry.putStatus(status('online', 1050, { boot: 'b1', sensors: [{ id: 'tc1', unit: 'C' }] }), 1051);
    expect(registry.putStatus(status('offline', 1000, { boot: 'b1' }), 9000)).toBe(true);
    expect(registry.get('furnace-1')?.status).toMatchObject({ state: 'offline', ts: 1000, receivedAt: 9000, boot: 'b1' });
  });

  it('ignores the will of an earlier connection that arrives after the next birth, and takes the current one', () => {
    registry.putStatus(status('online', 1050, { boot: 'b1' }), 1051);
    registry.putStatus(status('offline', 1000, { boot: 'b1' }), 2000);
    registry.putStatus(status('online', 3040, { boot: 'b1' }), 3041);
    // The first will again (a QoS 1 redelivery after a session takeover): stale.
    expect(registry.putStatus(status('offline', 1000, { boot: 'b1' }), 3100)).toBe(false);
    expect(stateOf()).toBe('online');
    // The birth of connection 1 again, after its own will: stale too.
    registry.putStatus(status('offline', 3000, { boot: 'b1' }), 5000);
    expect(registry.putStatus(status('online', 3040, { boot: 'b1' }), 5100)).toBe(false);
    expect(registry.get('furnace-1')?.status).toMatchObject({ state: 'offline', ts: 3000, receivedAt: 5000 });
    // A will after a will: the birth between them was missed, the later will is news.
    expect(registry.putStatus(status('offline', 6000, { boot: 'b1' }), 7000)).toBe(true);
    expect(registry.putStatus(status('online', 6020, { boot: 'b1' }), 7001)).toBe(true);
    expect(stateOf()).toBe('online');
  });

  it('lets a new boot override the retained will of the old one, and its own will override its birth', () => {
    registry.putStatus(status('online', 1050, { boot: 'b1' }), 1051);
    registry.putStatus(status('offline', 1000, { boot: 'b1' }), 2000);
    registry.putStatus(status('online', 4050, { boot: 'b2' }), 4051);
    expect(registry.putStatus(status('offline', 1000, { boot: 'b1' }), 4100)).toBe(false);
    expect(stateOf()).toBe('online');
    expect(registry.putStatus(status('offline', 4000, { boot: 'b2' }), 8000)).toBe(true);
    expect(stateOf()).toBe('offline');
  });

  it('keeps when a will first arrived: the retained copy resent later is no news', () => {
    registry.putStatus(status('online', 1050, { boot: 'b1' }), 1051);
    registry.putStatus(status('offline', 1000, { boot: 'b1' }), 2000);
    expect(registry.putStatus(status('offline', 1000, { boot: 'b1' }), 60_000)).toBe(false);
    expect(registry.get('furnace-1')?.status).toMatchObject({ state: 'offline', receivedAt: 2000 });
  });

  it('judges agents without a boot id as one boot', () => {
    registry.putStatus(status('online', 1050), 1051);
    expect(registry.putStatus(status('offline', 1000), 2000)).toBe(true);
    registry.putStatus(status('online', 3040), 3041);
    expect(registry.putStatus(status('offline', 1000), 3100)).toBe(false);
    expect(stateOf()).toBe('online');
  });

  it('still knows which will is stale after a restart, and opens a registry written without that knowledge', () => {
    registry.putStatus(status('online', 1050, { boot: 'b1' }), 1051);
    registry.putStatus(status('offline', 1000, { boot: 'b1' }), 2000);
    registry.putStatus(status('online', 3040, { boot: 'b1' }), 3041);
    registry.close();
    registry = new DeviceRegistry(dir);
    expect(registry.putStatus(status('offline', 1000, { boot: 'b1' }), 3100)).toBe(false);
    registry.close();

    const old = join(dir, 'old');
    mkdirSync(old);
    const db = new Database(join(old, REGISTRY_FILE));
    db.exec(`CREATE TABLE device_status (device TEXT PRIMARY KEY, state TEXT NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
      boot TEXT, agent_version TEXT, sensors TEXT NOT NULL)`);
    db.prepare(`INSERT INTO device_status VALUES ('furnace-1', 'online', 1050, 1051, 'b1', NULL, '[]')`).run();
    db.close();
    registry = new DeviceRegistry(old);
    expect(registry.putStatus(status('offline', 1000, { boot: 'b1' }), 9000)).toBe(true);
    expect(stateOf()).toBe('offline');
  });

  it('keeps the newest sensor-health report, and forgets what an empty retained message cleared', () => {
    const report = (ts: number, state: 'ok' | 'stalled') => ({
      v: 1 as const,
      device: 'furnace-1',
      ts,
      sensors: [{ sensor: 'tc1', state, since: ts }],
    });
    registry.putSensorsHealth(report(2000, 'stalled'));
    registry.putSensorsHealth(report(1000, 'ok'));
    expect(registry.get('furnace-1')).toMatchObject({
      sensorHealthTs: 2000,
      sensorHealth: [{ sensor: 'tc1', state: 'stalled', since: 2000 }],
    });
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
