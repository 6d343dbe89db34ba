import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  type Command,
  type CommandName,
  type CommandReply,
  CommandArgs,
  compileValidator,
  encodePayload,
  topics,
} from '../../contract/index.js';
import { onceLevel } from '../../contract/log-once.js';
import type { BackendMetrics, CommandResult } from '../metrics.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import { CommandError } from './command-errors.js';
import { newRequestId } from './request-id.js';

export interface CommandRequest {
  device: string;
  command: CommandName;
  args?: Record<string, unknown> | undefined;
  timeoutMs: number;
  /** Who asks: the API token name, 'open-access', or a part of the backend (the gap filler). */
  requester: string;
}

/** The agent's reply as the API answers it, with the round trip the backend measured. */
export interface CommandAnswer {
  outcome: CommandReply['outcome'];
  code?: string | undefined;
  reason?: string | undefined;
  data?: unknown;
  requestId: string;
  /** When the agent answered (its clock), Unix ms. */
  ts: number;
  /** From publishing the request to receiving the reply, ms. */
  latencyMs: number;
}

/** What sends commands (the HTTP routes, the gap filler); CommandClient is the one implementation. */
export interface CommandSender {
  send(request: CommandRequest): Promise<CommandAnswer>;
}

export interface CommandClientOptions {
  /** The backend's MQTT session (ingest's): requests go out on it, replies come in through ingest. */
  client: Pick<MqttClient, 'publish'>;
  registry: Pick<DeviceRegistry, 'get'>;
  metrics: BackendMetrics;
  log: Logger;
  maxInFlightPerDevice: number;
  maxInFlight: number;
  /** Why a reply could not arrive now (not connected, reply subscription refused); `undefined` when it can. */
  problem: () => string | undefined;
}

interface Pending {
  device: string;
  command: CommandName;
  started: number;
  timer: NodeJS.Timeout;
  resolve: (answer: CommandAnswer) => void;
  reject: (error: CommandError) => void;
}

/** Ids of requests that timed out, remembered this long and this many, to tell a late reply from a stray one. */
const EXPIRED_KEEP_MS = 10 * 60_000;
const EXPIRED_MAX = 10_000;

const argCheckers = Object.fromEntries(Object.entries(CommandArgs).map(([name, schema]) => [name, compileValidator(schema)])) as Record<
  CommandName,
  (value: unknown) => { ok: true } | { ok: false; issues: Array<{ path: string; message: string }> }
>;

/**
 * Request/response over MQTT (contract/README.md, "Commands"): each request is published QoS 1 on
 * cmd/v1/{device}/{command} and waits, as a promise with a timer, for the reply with its requestId.
 * Nothing blocks while it waits, so the API answers other calls meanwhile. Refusals come at once,
 * before anything is published: bad arguments, a device unknown or offline, no broker, too many
 * waiting. On timeout the request is forgotten (its deadline tells the agent to drop it too), and
 * a reply that comes later is counted and dropped.
 */
export class CommandClient implements CommandSender {
  private readonly pending = new Map<string, Pending>();
  private readonly perDevice = new Map<string, number>();
  /** requestId → when it timed out; insertion order is expiry order, so the oldest go first. */
  private readonly expired = new Map<string, number>();
  private warnedUnknown = false;
  private closed = false;

  constructor(private readonly options: CommandClientOptions) {}

  async send(request: CommandRequest): Promise<CommandAnswer> {
    const { device, command, requester, timeoutMs } = request;
    const args = request.args ?? {};
    const checked = argCheckers[command](args);
    if (!checked.ok) {
      const issue = checked.issues[0];
      const name = issue && issue.path !== '/' ? `args${issue.path.replaceAll('/', '.')}` : 'args';
      throw new CommandError('COMMAND_BAD_ARGS', `${name}: ${issue?.message ?? 'not valid'}`);
    }
    if (this.closed) throw new CommandError('COMMAND_CLOSED', 'the backend is stopping');
    const entry = this.options.registry.get(device);
    if (!entry)
      throw new CommandError(
        'COMMAND_DEVICE_UNKNOWN',
        `device: no device ${JSON.stringify(device)} has announced itself (no status received)`,
      );
    const status = entry.status;
    if (status?.state === 'offline') {
      this.count(command, 'offline');
      const since = new Date(status.receivedAt).toISOString();
      throw new CommandError(
        'COMMAND_DEVICE_OFFLINE',
        `device: ${device} is offline since ${since} (its agent left or lost its connection)`,
        status.receivedAt,
      );
    }
    const problem = this.options.problem();
    if (problem !== undefined) {
      this.count(command, 'unavailable');
      throw new CommandError('COMMAND_UNAVAILABLE', `cannot send commands now: ${problem}`);
    }
    const { maxInFlightPerDevice, maxInFlight } = this.options;
    const waiting = this.perDevice.get(device) ?? 0;
    if (waiting >= maxInFlightPerDevice || this.pending.size >= maxInFlight) {
      this.count(command, 'busy');
      const bound =
        waiting >= maxInFlightPerDevice
          ? `${waiting} commands to ${device} wait for a reply already`
          : `${this.pending.size} commands wait for a reply already`;
      throw new CommandError('COMMAND_BUSY', `${bound}; refused, not queued: retry once one is answered`);
    }
    return this.publish(device, command, { v: 1, requestId: newRequestId(), deadline: Date.now() + timeoutMs, requester, args }, timeoutMs);
  }

  /** A decoded reply from cmd/v1/{device}/{command}/reply (ingest hands it over, and acknowledges it at once). */
  takeReply(device: string, command: string, reply: CommandReply): void {
    const { metrics, log } = this.options;
    const pending = this.pending.get(reply.requestId);
    if (!pending) {
      if (this.expired.has(reply.requestId)) {
        metrics.commandRepliesLate.inc();
        log.debug({ device, command, requestId: reply.requestId }, 'a reply came after its request had timed out; dropped');
      } else {
        this.unknownReply(
          device,
          command,
          reply.requestId,
          'answers no request of this backend (one from before a restart, or another requester)',
        );
      }
      return;
    }
    // A device may answer only for itself: the broker's ACL says so, and so does this check.
    if (pending.device !== device || pending.command !== command || reply.command !== command) {
      this.unknownReply(
        device,
        command,
        reply.requestId,
        `came on another topic than its request (${pending.device}/${pending.command}); dropped`,
      );
      return;
    }
    this.forget(reply.requestId, pending);
    const seconds = (performance.now() - pending.started) / 1000;
    metrics.commandSeconds.observe({ command }, seconds);
    this.count(pending.command, reply.outcome);
    const { outcome, code, reason, data, requestId, ts } = reply;
    pending.resolve({ outcome, code, reason, data, requestId, ts, latencyMs: Math.round(seconds * 10_000) / 10 });
  }

  /** Fails every waiting request: the backend is stopping. */
  close(): void {
    this.closed = true;
    for (const [requestId, pending] of this.pending) {
      this.forget(requestId, pending);
      pending.reject(new CommandError('COMMAND_CLOSED', 'the backend is stopping'));
    }
  }

  private publish(device: string, command: CommandName, request: Command, timeoutMs: number): Promise<CommandAnswer> {
    const { requestId } = request;
    return new Promise<CommandAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(requestId), timeoutMs);
      const pending: Pending = { device, command, started: performance.now(), timer, resolve, reject };
      this.pending.set(requestId, pending);
      this.perDevice.set(device, (this.perDevice.get(device) ?? 0) + 1);
      this.options.metrics.commandsInFlight.set(this.pending.size);
      // QoS 1, not retained: a retained command would run again for every agent that subscribes later.
      this.options.client.publish(topics.command(device, command), encodePayload(request), { qos: 1, retain: false }, (error) => {
        if (!error || this.pending.get(requestId) !== pending) return;
        this.forget(requestId, pending);
        this.count(command, 'unavailable');
        reject(new CommandError('COMMAND_UNAVAILABLE', `publishing the command failed: ${error.message}`));
      });
      this.options.log.debug({ device, command, requestId, requester: request.requester, timeoutMs }, 'command sent');
    });
  }

  private expire(requestId: string): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    this.forget(requestId, pending);
    const now = Date.now();
    this.expired.set(requestId, now);
    for (const [id, at] of this.expired) {
      if (this.expired.size <= EXPIRED_MAX && now - at < EXPIRED_KEEP_MS) break;
      this.expired.delete(id);
    }
    this.count(pending.command, 'timeout');
    const waited = Math.round(performance.now() - pending.started);
    pending.reject(new CommandError('COMMAND_TIMEOUT', `${pending.device} did not reply to ${pending.command} within ${waited} ms`));
  }

  private forget(requestId: string, pending: Pending): void {
    clearTimeout(pending.timer);
    this.pending.delete(requestId);
    const left = (this.perDevice.get(pending.device) ?? 1) - 1;
    if (left > 0) this.perDevice.set(pending.device, left);
    else this.perDevice.delete(pending.device);
    this.options.metrics.commandsInFlight.set(this.pending.size);
  }

  private count(command: CommandName, outcome: CommandResult): void {
    this.options.metrics.commands.inc({ command, outcome });
  }

  /** Counted always; logged loudly once (a device answering for another, a stale session), then quietly. */
  private unknownReply(device: string, command: string, requestId: string, why: string): void {
    this.options.metrics.commandRepliesUnknown.inc();
    this.options.log[onceLevel(!this.warnedUnknown)]({ device, command, requestId }, `command reply dropped: it ${why}`);
    this.warnedUnknown = true;
  }
}
