import type { Logger } from 'pino';
import { AgentError, type AgentErrorCode } from '../errors.js';
import { type RegisterTable, exceptionName, findResponse, readRequest } from './modbus-frame.js';
import type { ReopeningLink } from '../links/reopening-link.js';

export interface ReadRequest {
  slaveId: number;
  table: RegisterTable;
  address: number;
  quantity: number;
  timeoutMs: number;
}

export type ModbusFailureCode = Extract<AgentErrorCode, `AGENT_MODBUS_${string}`>;

/** Why a read failed; `exceptionCode` is set for AGENT_MODBUS_EXCEPTION (spec §15). */
export class ModbusError extends AgentError {
  constructor(
    override readonly code: ModbusFailureCode,
    message: string,
    readonly exceptionCode?: number,
  ) {
    super(code, message);
    this.name = 'ModbusError';
  }
}

export type ReadOutcome = { ok: true; data: Buffer } | { ok: false; error: ModbusError };

/**
 * The master of one RS-485 bus (or one serial-over-IP link to it). Modbus RTU is half duplex
 * with one master: one request at a time, each answered or timed out before the next one goes,
 * whichever slave it is for. Requests from every sensor on the bus queue here in turn.
 */
export class ModbusMaster {
  private queue: Promise<unknown> = Promise.resolve();
  private pending: { onData: (chunk: Buffer) => void } | undefined;
  private lastActivity = 0;

  /**
   * @param frameGapMs spec §10.1: the silence that must separate two frames on a real line
   *   (3.5 characters); 0 on links that carry no byte timing (TCP).
   */
  constructor(
    private readonly link: ReopeningLink,
    private readonly frameGapMs: number,
    private readonly log: Logger,
  ) {
    link.on('data', (chunk) => {
      this.lastActivity = Date.now();
      // Bytes while no request waits are stale (the late answer to a timed-out request): dropped.
      this.pending?.onData(chunk);
    });
  }

  /** Reads registers; never rejects: a failure is an outcome with its reason. */
  read(request: ReadRequest): Promise<ReadOutcome> {
    const result = this.queue.then(() => this.transact(request));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async transact(request: ReadRequest): Promise<ReadOutcome> {
    const { slaveId, table, address, quantity, timeoutMs } = request;
    const quiet = this.lastActivity + this.frameGapMs - Date.now();
    if (quiet > 0) await new Promise((resolve) => setTimeout(resolve, quiet));
    return new Promise<ReadOutcome>((resolve) => {
      let buffer = Buffer.alloc(0);
      let partial = 0;
      const finish = (outcome: ReadOutcome) => {
        clearTimeout(timer);
        this.pending = undefined;
        this.lastActivity = Date.now();
        resolve(outcome);
      };
      const fail = (code: ModbusFailureCode, message: string, exceptionCode?: number) =>
        finish({ ok: false, error: new ModbusError(code, `slave ${slaveId}: ${message}`, exceptionCode) });
      const timer = setTimeout(() => {
        const heard = partial > 0 ? `; only ${partial} bytes of it arrived` : '';
        fail('AGENT_MODBUS_TIMEOUT', `no answer within ${timeoutMs} ms${heard}`);
      }, timeoutMs);
      this.pending = {
        onData: (chunk) => {
          // Bounded: a babbling bus must not grow memory; an answer is at most 255 bytes (spec §11).
          buffer = Buffer.concat([buffer, chunk]).subarray(-1024);
          const match = findResponse(buffer, slaveId, table, quantity);
          switch (match.kind) {
            case 'registers':
              return finish({ ok: true, data: match.data });
            case 'exception':
              return fail(
                'AGENT_MODBUS_EXCEPTION',
                `exception ${String(match.code).padStart(2, '0')} (${exceptionName(match.code)})`,
                match.code,
              );
            case 'crc-error':
              return fail('AGENT_MODBUS_CRC', 'the answer failed its CRC check (spec §10.2)');
            case 'incomplete':
              partial = match.partial;
              return undefined;
          }
        },
      };
      const frame = readRequest(slaveId, table, address, quantity);
      if (!this.link.write(frame)) return fail('AGENT_MODBUS_LINK_DOWN', 'the port is not open');
      this.log.trace({ slaveId, table, address, quantity }, 'modbus request');
    });
  }
}

/** Spec §10.1: 3.5 character times (11 bits each with parity and stop bit) at `baudRate`, in ms. */
export function frameGapMs(baudRate: number): number {
  return Math.ceil((3.5 * 11 * 1000) / baudRate);
}
