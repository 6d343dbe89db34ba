import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.js';
import { AgentMetrics } from '../health/metrics.js';
import { DEFAULT_OUTBOX_LIMITS, DurableOutbox } from '../outbox/outbox.js';
import { ReadingPipeline } from './reading-pipeline.js';
import { SensorHealthBoard } from './sensor-health.js';
import type { SensorPlan } from '../sensor-plan.js';

const log = pino({ level: 'silent' });
const T0 = 1_800_000_000_000;

function sensor(id: string, sampling: Partial<SensorPlan['sampling']> = {}): SensorPlan {
  return {
    id,
    port: 'serial',
    unit: 'C',
    driver: 'line',
    intervalMs: 1000,
    line: { format: 'spec' },
    sampling: { minIntervalMs: 0, deadband: 0, heartbeatMs: 0, ...sampling },
  };
}

describe('ReadingPipeline', () => {
  let dir: string;
  let outbox: DurableOutbox;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pipeline-test-'));
  });
  afterEach(() => {
    try {
      outbox.close();
    } catch {
      // closed by the test already
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function pipeline(sensors: SensorPlan[], maxReadings = DEFAULT_OUTBOX_LIMITS.maxReadings, online = true) {
    outbox = new DurableOutbox(dir, { ...DEFAULT_OUTBOX_LIMITS, maxReadings });
    const metrics = new AgentMetrics({ outboxDepth: () => outbox.depth, outboxOldestAgeMs: () => 0, mqttConnected: () => online });
    const board = new SensorHealthBoard(
      'f',
      sensors.map((s) => s.id),
    );
    const committed: number[] = [];
    let changes = 0;
    const sink = new ReadingPipeline({
      boot: 'b1',
      sensors,
      outbox,
      board,
      metrics,
      log,
      clock: () => 'synced',
      committed: (seq) => committed.push(seq),
      stateChanged: () => changes++,
    });
    const metric = async (name: string, labels = '') =>
      Number(
        (await metrics.registry.metrics())
          .split('\n')
          .find((line) => line.startsWith(`${name}${labels} `))
          ?.split(' ')[1] ?? 0,
      );
    return { sink, committed, board, metric, changes: () => changes };
  }

  it('commits a burst in one go, with each sensor unit and the clock flag', async () => {
    const { sink, committed } = pipeline([sensor('tc1'), sensor('tc2')], undefined, false);
    sink.reading('tc1', T0, 800, 'good');
    sink.reading('tc2', T0, null, 'bad');
    sink.reading('tc1', T0 + 1, 2000, 'uncertain');
    expect(outbox.depth).toBe(0); // committed at the end of this turn of the event loop
    await waitFor(() => committed.length === 1, { timeoutMs: 2000, what: 'the commit' });
    expect(committed).toEqual([3]);
    expect(outbox.peek(10)).toEqual([
      { seq: 1, boot: 'b1', ts: T0, sensor: 'tc1', value: 800, unit: 'C', quality: 'good', clock: 'synced' },
      { seq: 2, boot: 'b1', ts: T0, sensor: 'tc2', value: null, unit: 'C', quality: 'bad', clock: 'synced' },
      { seq: 3, boot: 'b1', ts: T0 + 1, sensor: 'tc1', value: 2000, unit: 'C', quality: 'uncertain', clock: 'synced' },
    ]);
  });

  it('applies each sensor sampling: deadband and heartbeat', async () => {
    const { sink, metric } = pipeline([sensor('tc1', { deadband: 1, heartbeatMs: 10_000 })]);
    [800, 800.4, 801.1, 801.5, 801.5].forEach((value, i) => sink.reading('tc1', T0 + i * 1000, value, 'good'));
    sink.reading('tc1', T0 + 20_000, 801.5, 'good'); // heartbeat
    sink.flush();
    expect(outbox.peek(10).map((entry) => entry.value)).toEqual([800, 801.1, 801.5]);
    expect(await metric('furnace_agent_readings_sampled_out_total', '{sensor="tc1"}')).toBe(3);
    expect(await metric('furnace_agent_readings_read_total', '{sensor="tc1"}')).toBe(6);
  });

  it('counts the readings the full outbox drops, and those a failing disk loses', async () => {
    const { sink, metric } = pipeline([sensor('tc1')], 3);
    for (let i = 0; i < 5; i++) sink.reading('tc1', T0 + i, i, 'good');
    sink.flush();
    expect(outbox.peek(10).map((entry) => entry.value)).toEqual([2, 3, 4]);
    expect(await metric('furnace_agent_readings_dropped_total', '{cause="outbox_full"}')).toBe(2);
    expect(sink.writable).toBe(true);
    outbox.close(); // the disk goes away
    sink.reading('tc1', T0 + 10, 10, 'good');
    sink.flush();
    expect(sink.writable).toBe(false);
    expect(sink.stats.outboxWriteErrors).toBe(1);
    expect(await metric('furnace_agent_readings_dropped_total', '{cause="write_failed"}')).toBe(1);
  });

  it('tracks sensor states, and tells only of changes', () => {
    const { sink, board, changes } = pipeline([sensor('tc1')]);
    sink.state('tc1', 'ok');
    sink.state('tc1', 'ok');
    sink.state('tc1', 'faulty', 'thermocouple open (ERR=OPEN)');
    expect(changes()).toBe(2);
    expect(board.get('tc1')).toMatchObject({ state: 'faulty', reason: 'thermocouple open (ERR=OPEN)' });
  });
});
