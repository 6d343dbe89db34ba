import type { Logger } from 'pino';
import {
  COMMAND_NAMES,
  CONTRACT_VERSION,
  type ClockState,
  type Command,
  CommandArgs,
  type CommandName,
  type CommandReply,
  compileValidator,
} from '../../contract/index.js';
import { OncePerKey } from '../../contract/log-once.js';
import { AgentError, errorCode } from '../errors.js';
import type { AgentMetrics } from '../health/metrics.js';
import { untilAborted } from '../readings/sensor-control.js';
import { type CommandContext, type CommandHandler, type CommandHandlers, type CommandResult, refused } from './handler.js';
import { ReplyCache } from './reply-cache.js';
import { commandBudgetMs, isExpired, readRequest } from './request.js';

export interface DispatcherOptions {
  handlers: CommandHandlers;
  /** Whether the agent's clock is synchronised now: deadlines are judged only then. */
  clock: () => ClockState;
  metrics: Pick<AgentMetrics, 'commands' | 'commandDuration' | 'commandDuplicates' | 'commandsDropped'>;
  log: Logger;
  cache?: ReplyCache;
  /** Commands running at once at most; past it a request is refused (AGENT_COMMAND_BUSY), never queued without bound. */
  maxRunning?: number;
  now?: () => number;
}

/** Commands that change something are logged at info; the read-only ones (dashboards poll them) at debug. */
const CHANGES: ReadonlySet<CommandName> = new Set(['set-interval', 'announce', 'resend']);
const REASON_MAX = 1000;

const checkArgs = Object.fromEntries(COMMAND_NAMES.map((name) => [name, compileValidator(CommandArgs[name])])) as {
  [N in CommandName]: ReturnType<typeof compileValidator<(typeof CommandArgs)[N]>>;
};

const isCommandName = (name: string): name is CommandName => (COMMAND_NAMES as readonly string[]).includes(name);

/**
 * Answers the requests on cmd/v1/{device}/{command}: every one that names a requestId gets a
 * reply, never silence. In order: a request that is not a Command is refused (MALFORMED); one
 * seen before is answered from the cache, not run again; then an unknown command (UNKNOWN), a
 * request past its deadline (EXPIRED, with a synchronised clock only), bad arguments (BAD_ARGS)
 * are refused; the rest runs, bounded by its deadline. Each request runs on its own: a slow one
 * (read-now waiting for a line) delays no other, and none of them holds the readings up.
 */
export class CommandDispatcher {
  private readonly cache: ReplyCache;
  private readonly running = new Set<AbortController>();
  private readonly logged = new OncePerKey();
  private readonly now: () => number;

  constructor(private readonly options: DispatcherOptions) {
    this.cache = options.cache ?? new ReplyCache();
    this.now = options.now ?? Date.now;
  }

  /** The reply to a request received on the topic of `command`; `undefined` when there is nobody to answer (no requestId). */
  async handle(command: string, payload: Uint8Array): Promise<CommandReply | undefined> {
    const receivedAt = this.now();
    const read = readRequest(payload);
    if (read.kind === 'unreadable') {
      this.options.metrics.commandsDropped.inc({ cause: read.cause });
      this.once(
        `dropped:${read.cause}`,
        { command, cause: read.cause, detail: read.reason.slice(0, 200) },
        'command request without a readable requestId dropped',
      );
      return undefined;
    }
    const { requestId } = read.kind === 'ok' ? read.request : read;
    // By command and id: the same id on another command's topic is another request, not a redelivery.
    const key = `${command}\u0000${requestId}`;
    const cached = this.cache.get(key, receivedAt);
    if (cached) {
      this.options.metrics.commandDuplicates.inc();
      this.options.log.debug({ command, requestId }, 'command received again; answered from the recent replies');
      return cached;
    }
    const reply =
      read.kind === 'ok'
        ? this.run(command, read.request, receivedAt)
        : Promise.resolve(
            this.reply(command, requestId, receivedAt, refused('AGENT_COMMAND_MALFORMED', `not a command request: ${read.reason}`)),
          );
    this.cache.set(key, reply, receivedAt);
    return reply;
  }

  /** The agent stops: running commands end now, failed with AGENT_STOPPING. */
  stop(): void {
    for (const controller of this.running) controller.abort(new AgentError('AGENT_STOPPING', 'the agent stopped while the command ran'));
  }

  private async run(command: string, request: Command, receivedAt: number): Promise<CommandReply> {
    const { requestId, deadline } = request;
    if (!isCommandName(command)) {
      return this.reply(
        command,
        requestId,
        receivedAt,
        refused('AGENT_COMMAND_UNKNOWN', `unknown command ${JSON.stringify(command)}; this agent answers ${COMMAND_NAMES.join(', ')}`),
      );
    }
    const clock = this.options.clock();
    if (isExpired(deadline, receivedAt, clock)) {
      return this.reply(
        command,
        requestId,
        receivedAt,
        refused('AGENT_COMMAND_EXPIRED', `arrived ${receivedAt - deadline} ms after its deadline (agent clock synchronised)`),
      );
    }
    const args = checkArgs[command](request.args ?? {});
    if (!args.ok) {
      const named = args.issues.map(({ path, message }) => `argument ${path.replace(/^\//, '') || '(args)'}: ${message}`);
      return this.reply(command, requestId, receivedAt, refused('AGENT_COMMAND_BAD_ARGS', named.join('; ')));
    }
    if (this.running.size >= (this.options.maxRunning ?? 100)) {
      return this.reply(
        command,
        requestId,
        receivedAt,
        refused('AGENT_COMMAND_BUSY', `${this.running.size} commands are running; try again`),
      );
    }
    const budgetMs = commandBudgetMs(deadline, receivedAt, clock);
    const result = await this.execute(command, args.value, request.requester, budgetMs);
    // Refusals and failures are logged with their code when the reply is made.
    if (result.outcome === 'ok')
      this.options.log[CHANGES.has(command) ? 'info' : 'debug']({ command, requestId, requester: request.requester }, 'command done');
    return this.reply(command, requestId, receivedAt, result);
  }

  private async execute(command: CommandName, args: unknown, requester: string, budgetMs: number): Promise<CommandResult> {
    const controller = new AbortController();
    let waitingFor: (() => string) | undefined;
    const timer = setTimeout(() => {
      const why = waitingFor ? `: ${waitingFor()}` : '';
      controller.abort(new AgentError('AGENT_COMMAND_TIMED_OUT', `not done within ${budgetMs} ms (its deadline)${why}`));
    }, budgetMs);
    this.running.add(controller);
    const context: CommandContext = { signal: controller.signal, requester, waitingFor: (describe) => (waitingFor = describe) };
    const aborted = untilAborted(controller.signal);
    try {
      // The arguments were checked against CommandArgs[command] just before.
      const handler = this.options.handlers[command] as CommandHandler<CommandName>;
      return await Promise.race([Promise.resolve().then(() => handler(args as never, context)), aborted]);
    } catch (error) {
      const code = errorCode(error) ?? 'AGENT_COMMAND_FAILED';
      if (!(error instanceof AgentError)) this.options.log.error({ err: error, command }, 'command failed unexpectedly');
      return { outcome: 'failed', code, reason: (error as Error).message };
    } finally {
      clearTimeout(timer);
      aborted.dispose();
      this.running.delete(controller);
    }
  }

  private reply(command: string, requestId: string, receivedAt: number, result: CommandResult): CommandReply {
    const ts = this.now();
    const { metrics } = this.options;
    const label = isCommandName(command) ? command : 'unknown';
    metrics.commands.inc({ command: label, outcome: result.outcome });
    metrics.commandDuration.observe({ command: label }, Math.max(0, ts - receivedAt) / 1000);
    if (result.outcome !== 'ok') {
      this.once(`${label}:${result.code}`, { command, requestId, code: result.code, reason: result.reason }, `command ${result.outcome}`);
      return {
        v: CONTRACT_VERSION,
        requestId,
        command,
        outcome: result.outcome,
        code: result.code.slice(0, 64),
        reason: result.reason.slice(0, REASON_MAX),
        ts,
      };
    }
    return { v: CONTRACT_VERSION, requestId, command, outcome: 'ok', ...(result.data === undefined ? {} : { data: result.data }), ts };
  }

  /** Loud once per cause, then quiet: a requester sending junk in a loop must not flood the SD card. */
  private once(key: string, fields: Record<string, unknown>, message: string): void {
    this.options.log[this.logged.level(key)](fields, message);
  }
}
