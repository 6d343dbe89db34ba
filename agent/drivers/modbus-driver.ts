import type { Logger } from 'pino';
import { ModbusError, ModbusMaster, type ReadOutcome, frameGapMs } from './modbus-master.js';
import { decodeRegisters, engineeringValue, registerCount } from './modbus-value.js';
import type { ReopeningLink } from '../links/reopening-link.js';
import { type SensorDriver, type SensorSink, reportPortState } from './sensor-events.js';
import { type ModbusSensorPlan, type PortPlan, outOfRange } from '../sensor-plan.js';

interface Poller {
  sensor: ModbusSensorPlan;
  /** The poll period in force: the plan's, until set-interval changes it. */
  pollMs: number;
  timer?: NodeJS.Timeout;
  /** The poll under way: a poll asked for meanwhile (timer or read-now) joins it. */
  inflight?: Promise<PollResult>;
  /** Failed the last poll: asked once per poll (no retries) until it answers again. */
  failing: boolean;
}

/** What one poll gave: a reading (a value, or a `bad` one), or why none. */
export type PollResult = { ok: true } | { ok: false; code: ModbusError['code']; message: string };

/**
 * Polls the Modbus RTU sensors of one bus (hardware spec §9 to §16), each at its own interval,
 * through one master. One slave failing does not stop the others: its polls still take their
 * turn, and while it keeps failing it is asked once per poll, without retries, so a dead slave
 * costs the bus one timeout per poll and no more.
 *
 * What becomes of a failure:
 * - an exception (spec §15): the device answered that it cannot give the value: a `bad` reading,
 *   and the sensor `faulty` with the exception;
 * - "no value" (a NaN float, or the raw value configured as such, spec §12's 0x8000): a `bad`
 *   reading, the sensor `faulty`;
 * - a CRC error (spec §10.2) after every retry: no reading (nothing trustworthy arrived), the
 *   sensor `faulty`;
 * - no answer (spec §16: the master times out) after every retry: no reading, the sensor `stalled`.
 */
export class ModbusBusDriver implements SensorDriver {
  private readonly master: ModbusMaster;
  private readonly pollers: Poller[];
  private stopped = true;
  /** The stall watchdog in poll periods, so it follows a poll period changed at run time. */
  private readonly stallPerPollMs: number;

  constructor(
    port: PortPlan,
    private readonly link: ReopeningLink,
    private readonly sink: SensorSink,
    private readonly log: Logger,
  ) {
    const isTcp = port.path.startsWith('tcp:');
    this.master = new ModbusMaster(link, isTcp ? 0 : frameGapMs(port.baudRate), log);
    this.pollers = port.sensors.flatMap((sensor) =>
      sensor.driver === 'modbus' ? [{ sensor, pollMs: sensor.modbus.pollMs, failing: false }] : [],
    );
    this.stallPerPollMs = port.stallAfterMs / Math.max(1, this.shortestPollMs());
    const ids = this.pollers.map((poller) => poller.sensor.id);
    link.on('state', (state, reason) => {
      reportPortState(sink, ids, state, reason);
      // A bus that just opened is read at once rather than a poll interval later.
      if (state === 'open') for (const poller of this.pollers) void this.poll(poller);
    });
  }

  start(): void {
    this.stopped = false;
    for (const poller of this.pollers) this.schedule(poller);
    this.link.start();
  }

  /** Polls a sensor of this bus now, or joins the poll under way (read-now). */
  pollNow(sensorId: string): Promise<PollResult> {
    const poller = this.pollers.find((candidate) => candidate.sensor.id === sensorId);
    if (!poller) return Promise.resolve({ ok: false, code: 'AGENT_MODBUS_LINK_DOWN', message: `no sensor ${sensorId} on this bus` });
    return this.poll(poller);
  }

  /** The poll period of a sensor of this bus (undefined: not on it). */
  pollMs(sensorId: string): number | undefined {
    return this.pollers.find((candidate) => candidate.sensor.id === sensorId)?.pollMs;
  }

  /**
   * Polls a sensor at a new period until the agent stops (set-interval); returns the previous one.
   * The bus's stall watchdog keeps its number of poll periods.
   */
  setPollInterval(sensorId: string, ms: number): number | undefined {
    const poller = this.pollers.find((candidate) => candidate.sensor.id === sensorId);
    if (!poller) return undefined;
    const previous = poller.pollMs;
    poller.pollMs = ms;
    if (!this.stopped) this.schedule(poller);
    if (this.stallPerPollMs > 0) this.link.setStallAfterMs(Math.round(this.stallPerPollMs * this.shortestPollMs()));
    return previous;
  }

  private schedule(poller: Poller): void {
    clearInterval(poller.timer);
    poller.timer = setInterval(() => void this.poll(poller), poller.pollMs);
  }

  private shortestPollMs(): number {
    return Math.min(...this.pollers.map((poller) => poller.pollMs));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const poller of this.pollers) clearInterval(poller.timer);
    await this.link.stop();
  }

  private poll(poller: Poller): Promise<PollResult> {
    // A poll still waiting for the bus is not doubled: the queue stays one deep per sensor.
    if (poller.inflight) return poller.inflight;
    if (this.stopped || !this.link.isOpen)
      return Promise.resolve({ ok: false, code: 'AGENT_MODBUS_LINK_DOWN', message: 'the port is not open' });
    const inflight = this.readWithRetries(poller).then((outcome): PollResult => {
      if (this.stopped) return { ok: false, code: 'AGENT_MODBUS_LINK_DOWN', message: 'the agent is stopping' };
      return this.report(poller, outcome, Date.now());
    });
    poller.inflight = inflight.finally(() => (poller.inflight = undefined));
    return poller.inflight;
  }

  private async readWithRetries(poller: Poller): Promise<ReadOutcome> {
    const { modbus } = poller.sensor;
    const tries = poller.failing ? 1 : modbus.retries + 1;
    let outcome: ReadOutcome | undefined;
    for (let attempt = 0; attempt < tries && !this.stopped; attempt++) {
      outcome = await this.master.read({
        slaveId: modbus.slaveId,
        table: modbus.table,
        address: modbus.register,
        quantity: registerCount(modbus.type),
        timeoutMs: modbus.timeoutMs,
      });
      // An answer (values or an exception) is final; only silence and garbled answers are worth asking again.
      if (outcome.ok || (outcome.error.code !== 'AGENT_MODBUS_TIMEOUT' && outcome.error.code !== 'AGENT_MODBUS_CRC')) break;
    }
    return outcome ?? { ok: false, error: new ModbusError('AGENT_MODBUS_LINK_DOWN', 'stopped') };
  }

  /** Reports the outcome to the sink; says whether it made a reading. */
  private report(poller: Poller, outcome: ReadOutcome, ts: number): PollResult {
    const { sensor } = poller;
    const { sink } = this;
    poller.failing = !outcome.ok;
    if (outcome.ok) {
      const decoded = engineeringValue(decodeRegisters(outcome.data, sensor.modbus), sensor.modbus);
      if (decoded.kind === 'no-value') {
        sink.reading(sensor.id, ts, null, 'bad');
        sink.state(sensor.id, 'faulty', `the device reports no value (raw ${decoded.raw})`);
        return { ok: true };
      }
      sink.reading(sensor.id, ts, decoded.value, outOfRange(decoded.value, sensor.range) ? 'uncertain' : 'good');
      sink.state(sensor.id, 'ok');
      return { ok: true };
    }
    const { error } = outcome;
    if (error.code !== 'AGENT_MODBUS_LINK_DOWN') sink.failed(sensor.id, failureReason(error), error.message);
    switch (error.code) {
      case 'AGENT_MODBUS_EXCEPTION':
        sink.reading(sensor.id, ts, null, 'bad');
        sink.state(sensor.id, 'faulty', `Modbus ${error.message}`);
        return { ok: true };
      case 'AGENT_MODBUS_CRC':
        sink.state(sensor.id, 'faulty', `Modbus ${error.message}`);
        break;
      case 'AGENT_MODBUS_TIMEOUT':
        sink.state(sensor.id, 'stalled', `Modbus ${error.message}`);
        break;
      case 'AGENT_MODBUS_LINK_DOWN':
        // The port's own state (disconnected) already says it.
        this.log.debug({ sensor: sensor.id }, 'poll skipped: the port is not open');
        break;
    }
    return { ok: false, code: error.code, message: error.message };
  }
}

function failureReason(error: ModbusError): string {
  switch (error.code) {
    case 'AGENT_MODBUS_EXCEPTION':
      return `modbus_exception_${error.exceptionCode ?? 0}`;
    case 'AGENT_MODBUS_CRC':
      return 'modbus_crc';
    case 'AGENT_MODBUS_TIMEOUT':
      return 'modbus_timeout';
    case 'AGENT_MODBUS_LINK_DOWN':
      return 'modbus_link_down';
  }
}
