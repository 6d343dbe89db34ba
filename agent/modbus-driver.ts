import type { Logger } from 'pino';
import { ModbusError, ModbusMaster, type ReadOutcome, frameGapMs } from './modbus-master.js';
import { decodeRegisters, engineeringValue, registerCount } from './modbus-value.js';
import type { ReopeningLink } from './reopening-link.js';
import { type SensorDriver, type SensorSink, reportPortState } from './sensor-events.js';
import { type ModbusSensorPlan, type PortPlan, outOfRange } from './sensor-plan.js';

interface Poller {
  sensor: ModbusSensorPlan;
  timer?: NodeJS.Timeout;
  busy: boolean;
  /** Failed the last poll: asked once per poll (no retries) until it answers again. */
  failing: boolean;
}

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

  constructor(
    port: PortPlan,
    private readonly link: ReopeningLink,
    private readonly sink: SensorSink,
    private readonly log: Logger,
  ) {
    const isTcp = port.path.startsWith('tcp:');
    this.master = new ModbusMaster(link, isTcp ? 0 : frameGapMs(port.baudRate), log);
    this.pollers = port.sensors.flatMap((sensor) => (sensor.driver === 'modbus' ? [{ sensor, busy: false, failing: false }] : []));
    const ids = this.pollers.map((poller) => poller.sensor.id);
    link.on('state', (state, reason) => {
      reportPortState(sink, ids, state, reason);
      // A bus that just opened is read at once rather than a poll interval later.
      if (state === 'open') for (const poller of this.pollers) void this.poll(poller);
    });
  }

  start(): void {
    this.stopped = false;
    for (const poller of this.pollers) poller.timer = setInterval(() => void this.poll(poller), poller.sensor.modbus.pollMs);
    this.link.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const poller of this.pollers) clearInterval(poller.timer);
    await this.link.stop();
  }

  private async poll(poller: Poller): Promise<void> {
    // A poll still waiting for the bus is not doubled: the queue stays one deep per sensor.
    if (this.stopped || poller.busy || !this.link.isOpen) return;
    poller.busy = true;
    try {
      const outcome = await this.readWithRetries(poller);
      if (!this.stopped) this.report(poller, outcome, Date.now());
    } finally {
      poller.busy = false;
    }
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

  private report(poller: Poller, outcome: ReadOutcome, ts: number): void {
    const { sensor } = poller;
    const { sink } = this;
    poller.failing = !outcome.ok;
    if (outcome.ok) {
      const decoded = engineeringValue(decodeRegisters(outcome.data, sensor.modbus), sensor.modbus);
      if (decoded.kind === 'no-value') {
        sink.reading(sensor.id, ts, null, 'bad');
        sink.state(sensor.id, 'faulty', `the device reports no value (raw ${decoded.raw})`);
        return;
      }
      sink.reading(sensor.id, ts, decoded.value, outOfRange(decoded.value, sensor.range) ? 'uncertain' : 'good');
      sink.state(sensor.id, 'ok');
      return;
    }
    const { error } = outcome;
    if (error.code !== 'AGENT_MODBUS_LINK_DOWN') sink.failed(sensor.id, failureReason(error), error.message);
    switch (error.code) {
      case 'AGENT_MODBUS_EXCEPTION':
        sink.reading(sensor.id, ts, null, 'bad');
        sink.state(sensor.id, 'faulty', `Modbus ${error.message}`);
        return;
      case 'AGENT_MODBUS_CRC':
        sink.state(sensor.id, 'faulty', `Modbus ${error.message}`);
        return;
      case 'AGENT_MODBUS_TIMEOUT':
        sink.state(sensor.id, 'stalled', `Modbus ${error.message}`);
        return;
      case 'AGENT_MODBUS_LINK_DOWN':
        // The port's own state (disconnected) already says it.
        this.log.debug({ sensor: sensor.id }, 'poll skipped: the port is not open');
        return;
    }
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
