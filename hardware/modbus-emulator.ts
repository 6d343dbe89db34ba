// The emulated Modbus RTU temperature controller, with the link faults of spec §19.3.
import { FAULT_RATE, Furnace, type FurnaceOptions } from './furnace.js';
import { ControllerRegisters } from './modbus/register-map.js';
import { type DiscardReason, RtuFramer } from './modbus/rtu-framer.js';
import { ModbusSlave } from './modbus/modbus-slave.js';
import { assertScenarioFits } from './scenario.js';
import type { EmulatorTransport } from './transports/transport.js';

export interface ModbusEmulatorOptions extends FurnaceOptions {
  /** Milliseconds of wall time between two samples of the sensor (the register refresh, spec §16). */
  intervalMs: number;
  /** Simulated seconds per real second. */
  speed?: number;
  /** Spec §9: 1 to 247 (default 1). */
  slaveId?: number;
  /** The bus: requests come in through `onData`, responses go out through `write`. */
  link: Pick<EmulatorTransport, 'write' | 'onData'>;
  /** Spec §10.1: the silence that ends a frame (default 20 ms). */
  silenceMs?: number;
}

export interface ModbusStats {
  /** Frames addressed to this slave (or broadcast) that were handled. */
  requests: number;
  responses: number;
  /** Frames for other slaves, ignored (spec §9). */
  otherSlaves: number;
  /** Bytes thrown away without an answer (spec §10.1), by reason. */
  discarded: Record<DiscardReason, number>;
}

/** Spec §10.1: pseudo-terminals and TCP need more slack than the 3.5 characters of a real line. */
export const DEFAULT_SILENCE_MS = 20;

export class ModbusEmulator {
  readonly furnace: Furnace;
  readonly registers: ControllerRegisters;
  readonly stats: ModbusStats = { requests: 0, responses: 0, otherSlaves: 0, discarded: { bad_crc: 0, too_short: 0 } };
  readonly slaveId: number;
  private readonly slave: ModbusSlave;
  private readonly framer: RtuFramer;
  private readonly stepSeconds: number;
  private timer: NodeJS.Timeout | undefined;
  private listening = false;

  constructor(private readonly options: ModbusEmulatorOptions) {
    assertScenarioFits(options.scenario ?? [], 'modbus');
    this.slaveId = options.slaveId ?? 1;
    // spec §14: the controller's output goes off on a sensor fault.
    this.furnace = new Furnace({ ...options, failSafe: true });
    this.registers = new ControllerRegisters(this.furnace);
    this.registers.refresh(this.furnace.sample());
    this.slave = new ModbusSlave({ slaveId: this.slaveId, registers: this.registers });
    this.framer = new RtuFramer(
      (frame) => this.onFrame(frame),
      (bytes, reason) => (this.stats.discarded[reason] += bytes),
      options.silenceMs ?? DEFAULT_SILENCE_MS,
    );
    this.stepSeconds = (options.intervalMs / 1000) * (options.speed ?? 1);
  }

  /** Starts sampling and answering. */
  start(): void {
    if (!this.listening) {
      this.listening = true;
      this.options.link.onData((chunk) => {
        if (this.timer) this.framer.push(chunk);
      });
    }
    this.timer ??= setInterval(() => this.tick(), this.options.intervalMs);
  }

  /** Stops sampling; requests that arrive while stopped are not answered. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.framer.close();
  }

  /** One sample interval: the furnace advances and the input registers take the new sample (spec §16). */
  tick(): void {
    this.furnace.advance(this.stepSeconds);
    this.registers.refresh(this.furnace.sample());
  }

  private onFrame(frame: Buffer): void {
    const furnace = this.furnace;
    const address = frame[0];
    if (address !== this.slaveId && address !== 0) {
      this.stats.otherSlaves++;
      return;
    }
    this.stats.requests++;
    // spec §19.3 stall: the device hears the request and says nothing.
    if (furnace.isActive('stall')) return;
    let response = this.slave.handle(frame, furnace.isActive('busy'));
    if (!response) return;
    // spec §19.3 crc-errors: every bit of the CRC inverted.
    if (furnace.isActive('crc-errors')) {
      response = Buffer.from(response);
      response.writeUInt16LE(response.readUInt16LE(response.length - 2) ^ 0xffff, response.length - 2);
    }
    // spec §19.3 partial: the device stops mid-response.
    if (furnace.isActive('partial') && furnace.faultRandom() < FAULT_RATE.partial) {
      response = response.subarray(0, furnace.randomInt(1, response.length - 1));
    }
    // spec §19.3 noise: 8 to 32 random bytes land on the bus before the response.
    if (furnace.isActive('noise') && furnace.faultRandom() < FAULT_RATE.noise) {
      response = Buffer.concat([furnace.randomBytes(furnace.randomInt(8, 32)), response]);
    }
    this.stats.responses++;
    this.options.link.write(response);
  }
}
