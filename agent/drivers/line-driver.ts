import { type ParsedLine, type SensorFaultCode, parseSensorLine } from './line-parser.js';
import type { LineSource } from './line-source.js';
import { type SensorDriver, type SensorSink, reportPortState } from './sensor-events.js';
import type { LineSensorPlan } from '../sensor-plan.js';

/** Spec §5: what each fault line means, for the sensor's state. */
const FAULT_REASONS: Record<SensorFaultCode, string> = {
  OPEN: 'thermocouple open (ERR=OPEN)',
  SHORT_GND: 'thermocouple shorted to ground (ERR=SHORT_GND)',
  SHORT_VCC: 'thermocouple shorted to the supply (ERR=SHORT_VCC)',
};

/**
 * Reads the line sensors of one port (hardware spec §3 to §8). Usually one sensor per port;
 * several when one line carries several values (CSV columns, JSON keys), each parsed with its
 * own options. A value line is a reading, a fault line (spec §5) a `bad` reading with the sensor
 * `faulty`; anything else is refused and counted, never guessed at (spec §7). A port that keeps
 * delivering bytes but no readable line for the stall time stalls its sensors too.
 */
export class LinePortDriver implements SensorDriver {
  private readonly lastRead = new Map<string, number>();

  constructor(
    private readonly source: LineSource,
    private readonly sensors: readonly LineSensorPlan[],
    private readonly sink: SensorSink,
    /** No readable line for this long, while refused ones keep coming: stalled (ms; 0: never). */
    private readonly stallAfterMs: number,
  ) {
    const ids = sensors.map((sensor) => sensor.id);
    source.on('state', (state, reason) => {
      if (state === 'open') for (const id of ids) this.lastRead.set(id, Date.now());
      reportPortState(sink, ids, state, reason);
    });
    source.on('line', (line) => this.onLine(line));
    source.on('overlong', (bytes) => {
      for (const id of ids) this.refuse(id, 'too_long', `(${bytes} bytes without a newline)`, Date.now());
    });
  }

  start(): void {
    this.source.start();
  }

  stop(): Promise<void> {
    return this.source.stop();
  }

  private onLine(line: string): void {
    // Spec §3.3: blanks (and a CR around a line) are not lines.
    if (line.trim() === '') return;
    this.sink.lineRead();
    const ts = Date.now();
    for (const sensor of this.sensors) this.read(sensor, parseSensorLine(line, sensor.line), line, ts);
  }

  private read(sensor: LineSensorPlan, parsed: ParsedLine, line: string, ts: number): void {
    switch (parsed.kind) {
      case 'value':
        this.lastRead.set(sensor.id, ts);
        // Spec §4: outside the sensor's range the value is kept, but not trusted.
        this.sink.reading(sensor.id, ts, parsed.value, parsed.outOfRange ? 'uncertain' : 'good');
        this.sink.state(sensor.id, 'ok');
        return;
      case 'fault':
        // A fault is a reading too: a bad one, with no value, so the backend sees the sensor is broken.
        this.lastRead.set(sensor.id, ts);
        this.sink.reading(sensor.id, ts, null, 'bad');
        this.sink.state(sensor.id, 'faulty', FAULT_REASONS[parsed.fault]);
        return;
      case 'invalid':
        this.refuse(sensor.id, parsed.reason, line, ts);
        return;
    }
  }

  private refuse(sensorId: string, reason: string, line: string, ts: number): void {
    this.sink.refused(sensorId, reason, line);
    const since = this.lastRead.get(sensorId) ?? ts;
    if (this.stallAfterMs > 0 && ts - since >= this.stallAfterMs) {
      // A stable reason: the state is republished on every change of it.
      this.sink.state(sensorId, 'stalled', `no readable line for ${this.stallAfterMs} ms, only refused ones`);
    }
  }
}
