import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type InProcessTransport, openInProcessTransport } from '../../hardware/transports/in-process-transport.js';
import { RecordingSink } from '../../test/helpers/recording-sink.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { LinePortDriver } from './line-driver.js';
import { LineSource } from './line-source.js';
import { createLink } from '../links/link-factory.js';
import type { LineSensorPlan } from '../sensor-plan.js';

const log = pino({ level: 'silent' });

function lineSensor(id: string, line: LineSensorPlan['line']): LineSensorPlan {
  return {
    id,
    port: 'serial',
    unit: 'C',
    driver: 'line',
    intervalMs: 1000,
    sampling: { minIntervalMs: 0, deadband: 0, heartbeatMs: 0 },
    line,
  };
}

describe('LinePortDriver', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A driver on an in-process port, resolved once the port is open. */
  async function start(sensors: LineSensorPlan[], stallAfterMs = 0): Promise<{ transport: InProcessTransport; sink: RecordingSink }> {
    const transport = openInProcessTransport(`/dev/ttyLINE-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const source = new LineSource(createLink({ path: transport.devicePath, baudRate: 9600, reopenMaxMs: 100 }, log, transport.binding));
    const opened = new Promise<void>((resolve) => source.on('state', (state) => state === 'open' && resolve()));
    const sink = new RecordingSink();
    const driver = new LinePortDriver(source, sensors, sink, stallAfterMs);
    driver.start();
    cleanups.push(async () => {
      await driver.stop();
      await transport.close();
    });
    await opened;
    return { transport, sink };
  }

  it('reads spec lines: values, out-of-range values, fault lines; refuses the rest and skips blanks', async () => {
    const { transport, sink } = await start([lineSensor('tc1', { format: 'spec', range: { min: -200, max: 1372 } })]);
    transport.write('T=812.5,CJ=24.1\r\n\r\nT=1400.0\r\nERR=OPEN,CJ=24.0\r\nhello\r\n');
    await waitFor(() => sink.refusals.length === 1, { timeoutMs: 5000, what: 'the lines read' });
    expect(sink.readings.map(({ value, quality }) => [value, quality])).toEqual([
      [812.5, 'good'],
      [1400, 'uncertain'],
      [null, 'bad'],
    ]);
    expect(sink.stateOf('tc1')).toEqual({ sensor: 'tc1', state: 'faulty', reason: 'thermocouple open (ERR=OPEN)' });
    expect(sink.refusals).toEqual([{ sensor: 'tc1', reason: 'unrecognised' }]);
    expect(sink.lines).toBe(4); // the blank line is not a line (spec §3.3)
  });

  it('reads several sensors from the columns of one CSV line, each with its own range', async () => {
    const { transport, sink } = await start([
      lineSensor('chamber', { format: 'csv', column: 1, range: { min: 0, max: 1300 } }),
      lineSensor('ambient', { format: 'csv', column: 2, range: { min: -20, max: 60 } }),
    ]);
    transport.write('2025-01-05T10:00:00Z,812.5,24.1\r\n2025-01-05T10:00:01Z,1350.0,x\r\n');
    await waitFor(() => sink.readings.length === 3, { timeoutMs: 5000, what: 'three readings' });
    expect(sink.readings.map(({ sensor, value, quality }) => [sensor, value, quality])).toEqual([
      ['chamber', 812.5, 'good'],
      ['ambient', 24.1, 'good'],
      ['chamber', 1350, 'uncertain'],
    ]);
    expect(sink.refusals).toEqual([{ sensor: 'ambient', reason: 'not_a_number' }]);
  });

  it('stalls a sensor that gets bytes but no readable line for the stall time', async () => {
    const { transport, sink } = await start([lineSensor('tc1', { format: 'spec' })], 100);
    const lastGood = Date.now();
    transport.write('T=800.0\r\n');
    await waitFor(() => sink.stateOf('tc1')?.state === 'ok', { timeoutMs: 5000, what: 'tc1 ok' });
    await waitFor(
      () => {
        transport.write('garbage\r\n');
        return sink.stateOf('tc1')?.state === 'stalled';
      },
      { timeoutMs: 5000, intervalMs: 20, what: 'tc1 stalled' },
    );
    expect(Date.now() - lastGood).toBeGreaterThanOrEqual(100);
    expect(sink.stateOf('tc1')?.reason).toBe('no readable line for 100 ms, only refused ones');
    transport.write('T=801.0\r\n');
    await waitFor(() => sink.stateOf('tc1')?.state === 'ok', { timeoutMs: 5000, what: 'tc1 ok again' });
  });
});
