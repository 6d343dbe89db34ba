import type { Logger } from 'pino';
import type { ClockState, Quality, SensorState } from '../../contract/index.js';
import { OncePerKey, onceLevel } from '../../contract/log-once.js';
import { errorCode } from '../errors.js';
import type { AgentMetrics } from '../health/metrics.js';
import type { DurableOutbox, NewReading } from '../outbox/outbox.js';
import { type ReadingWait, ReadingWaiters, type TakenReading } from './reading-waiters.js';
import { Sampler } from './sampler.js';
import type { SensorSink } from '../drivers/sensor-events.js';
import type { SensorHealthBoard } from './sensor-health.js';
import type { SensorPlan } from '../sensor-plan.js';

export interface PipelineOptions {
  boot: string;
  sensors: readonly SensorPlan[];
  outbox: DurableOutbox;
  board: SensorHealthBoard;
  metrics: AgentMetrics;
  clock: () => ClockState;
  /** Readings up to this seq are committed. */
  committed: (lastSeq: number) => void;
  /** A sensor's state changed. */
  stateChanged: () => void;
  log: Logger;
}

/** What the agent has done with its input since it started (also logged at stop). */
export interface PipelineStats {
  linesRead: number;
  readingsStored: number;
  /** Readings lost because the outbox could not be written (disk full, I/O error). */
  outboxWriteErrors: number;
  /** Lines refused, by reason: they are counted and logged, never published as values. */
  linesRefused: Record<string, number>;
}

/**
 * From the drivers to the outbox: each reading goes through its sensor's sampling (minimum
 * interval, deadband, heartbeat), gets the clock flag, and is committed. Readings of one burst
 * (a chunk of lines, a round of polls) are committed in one transaction, at the end of the
 * current turn of the event loop, before anything is published.
 */
export class ReadingPipeline implements SensorSink {
  readonly stats: PipelineStats = { linesRead: 0, readingsStored: 0, outboxWriteErrors: 0, linesRefused: {} };
  private readonly samplers = new Map<string, Sampler>();
  private readonly units = new Map<string, string>();
  /** Causes already logged loudly: a noisy line must not flood the log. */
  private readonly logged = new OncePerKey();
  private pending: NewReading[] = [];
  /** Read-now waiters of the pending readings, by their index in `pending`. */
  private pendingWaiters = new Map<number, Array<(reading: TakenReading) => void>>();
  private readonly waiters = new ReadingWaiters();
  private flushScheduled = false;
  private dropsSeen = { full: 0, expired: 0 };
  /** Whether the last commit worked: false while the disk refuses (the agent is then unhealthy). */
  writable = true;

  constructor(private readonly options: PipelineOptions) {
    for (const sensor of options.sensors) {
      this.samplers.set(sensor.id, new Sampler(sensor.sampling));
      this.units.set(sensor.id, sensor.unit);
    }
  }

  lineRead(): void {
    this.stats.linesRead++;
    this.options.metrics.linesRead.inc();
  }

  reading(sensorId: string, ts: number, value: number | null, quality: Quality): void {
    const { metrics } = this.options;
    metrics.readingsRead.inc({ sensor: sensorId });
    // A reading someone asked for (read-now) is kept whatever the sampling settings say.
    const waiting = this.waiters.claim(sensorId);
    if (!this.samplers.get(sensorId)?.accept(ts, value, quality, waiting.length > 0)) {
      metrics.readingsSampledOut.inc({ sensor: sensorId });
      return;
    }
    const unit = this.units.get(sensorId) ?? '';
    this.pending.push({ ts, sensor: sensorId, value, unit, quality, clock: this.options.clock() });
    if (waiting.length > 0) this.pendingWaiters.set(this.pending.length - 1, waiting);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Waits for the next reading of `sensorId`, kept and committed whatever the sampling settings say (read-now). */
  nextReading(sensorId: string): ReadingWait {
    return this.waiters.wait(sensorId);
  }

  /** The sampling minimum interval of a sensor, or `undefined` for an unknown one. */
  minIntervalMs(sensorId: string): number | undefined {
    return this.samplers.get(sensorId)?.minIntervalMs;
  }

  /** Changes a sensor's sampling minimum interval until the agent stops (set-interval); returns the previous one. */
  setMinInterval(sensorId: string, ms: number): number | undefined {
    return this.samplers.get(sensorId)?.setMinInterval(ms);
  }

  state(sensorId: string, state: SensorState, reason?: string): void {
    const previous = this.options.board.get(sensorId);
    if (!this.options.board.set(sensorId, state, reason)) return;
    const level = state === 'ok' ? 'info' : 'warn';
    this.options.log[level]({ sensor: sensorId, state, reason, was: previous?.state }, 'sensor state changed');
    this.options.stateChanged();
  }

  refused(sensorId: string, reason: string, line: string): void {
    const { stats, options } = this;
    stats.linesRefused[reason] = (stats.linesRefused[reason] ?? 0) + 1;
    options.metrics.parseErrors.inc({ sensor: sensorId, reason });
    options.log[this.logged.level(`${sensorId}:${reason}`)]({ sensor: sensorId, reason, line: line.slice(0, 40) }, 'sensor line refused');
  }

  failed(sensorId: string, reason: string, detail: string): void {
    this.options.metrics.modbusFailures.inc({ sensor: sensorId, reason });
    this.options.log[this.logged.level(`${sensorId}:${reason}`)]({ sensor: sensorId, reason, detail }, 'modbus poll failed');
  }

  /** Commits what waits now (the agent is stopping). */
  flush(): void {
    this.flushScheduled = false;
    const readings = this.pending;
    if (readings.length === 0) return;
    this.pending = [];
    const waiters = this.pendingWaiters;
    this.pendingWaiters = new Map();
    const { outbox, metrics, boot, log } = this.options;
    let seqs: Array<number | undefined>;
    try {
      seqs = outbox.appendMany(boot, readings);
    } catch (error) {
      // Read-now still gets the reading it asked for, marked as not stored.
      answerWaiters(waiters, readings, []);
      // A full or failing disk: these readings cannot be kept, but the agent goes on for the next ones,
      // unhealthy (/healthz 503) until a write succeeds again. Loud once per outage, then quiet.
      const fields = { err: error, code: errorCode(error) ?? 'AGENT_OUTBOX_WRITE_FAILED', lost: readings.length };
      log[onceLevel(this.writable, 'error')](fields, 'readings lost: the outbox cannot be written');
      this.writable = false;
      this.stats.outboxWriteErrors += readings.length;
      metrics.readingsDropped.inc({ cause: 'write_failed' }, readings.length);
      return;
    }
    answerWaiters(waiters, readings, seqs);
    if (!this.writable) log.info({ lostMeanwhile: this.stats.outboxWriteErrors }, 'the outbox can be written again');
    this.writable = true;
    const stored = seqs.filter((seq): seq is number => seq !== undefined);
    this.stats.readingsStored += stored.length;
    metrics.readingsStored.inc(stored.length);
    this.countDrops();
    const last = stored[stored.length - 1];
    if (last !== undefined) this.options.committed(last);
  }

  private countDrops(): void {
    const { droppedBy } = this.options.outbox;
    const full = droppedBy.full - this.dropsSeen.full;
    const expired = droppedBy.expired - this.dropsSeen.expired;
    if (full > 0) this.options.metrics.readingsDropped.inc({ cause: 'outbox_full' }, full);
    if (expired > 0) this.options.metrics.readingsDropped.inc({ cause: 'expired' }, expired);
    if (full + expired > 0 && this.dropsSeen.full + this.dropsSeen.expired === 0) {
      this.options.log.warn({ full: droppedBy.full, expired: droppedBy.expired }, 'outbox cap reached: readings are being dropped');
    }
    this.dropsSeen = { ...droppedBy };
  }
}

/** Hands each read-now waiter its reading, with the seq the outbox gave it (none: not stored). */
function answerWaiters(
  waiters: Map<number, Array<(reading: TakenReading) => void>>,
  readings: readonly NewReading[],
  seqs: ReadonlyArray<number | undefined>,
): void {
  for (const [index, resolves] of waiters) {
    const reading = readings[index];
    if (!reading) continue;
    const seq = seqs[index];
    const { sensor, ts, value, unit, quality, clock } = reading;
    const taken: TakenReading = {
      sensor,
      ...(seq === undefined ? {} : { seq }),
      ts,
      value,
      unit,
      quality,
      clock,
      stored: seq !== undefined,
    };
    for (const resolve of resolves) resolve(taken);
  }
}
