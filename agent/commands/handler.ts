import type { Static } from '@sinclair/typebox';
import type { CommandArgs, CommandName } from '../../contract/index.js';
import type { AgentErrorCode } from '../errors.js';

/** What a command comes to: done (with its data), refused before it was tried, or failed while trying. */
export type CommandResult = { outcome: 'ok'; data: unknown } | { outcome: 'refused' | 'failed'; code: string; reason: string };

export interface CommandContext {
  /** Aborts when the command's time is up (its deadline) or the agent stops; the reason is an AgentError. */
  signal: AbortSignal;
  /** Who asked (the request's `requester`), for the log. */
  requester: string;
  /**
   * Says what the command is waiting for, asked only if its time runs out: a timed-out reply then
   * says why ("waiting for the next reading of tc1, which is stalled: ...").
   */
  waitingFor: (describe: () => string) => void;
}

export type ArgsOf<N extends CommandName> = Static<(typeof CommandArgs)[N]>;
export type CommandHandler<N extends CommandName> = (args: ArgsOf<N>, context: CommandContext) => CommandResult | Promise<CommandResult>;
/** One handler per command of the contract: a command added there does not compile here until it is answered. */
export type CommandHandlers = { [N in CommandName]: CommandHandler<N> };

export const ok = (data: unknown): CommandResult => ({ outcome: 'ok', data });
export const refused = (code: AgentErrorCode, reason: string): CommandResult => ({ outcome: 'refused', code, reason });
export const failed = (code: string, reason: string): CommandResult => ({ outcome: 'failed', code, reason });

/** The refusal of an argument that is well formed but names nothing this agent has (a sensor). */
export function noSuchSensor(argument: string, sensor: string, known: readonly string[]): CommandResult {
  return refused(
    'AGENT_COMMAND_BAD_ARGS',
    `argument ${argument}: no sensor ${JSON.stringify(sensor)} on this agent (it has ${known.join(', ')})`,
  );
}
