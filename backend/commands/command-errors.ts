/**
 * Why a command got no reply from the agent, or was never sent. Stable codes: the HTTP routes map
 * each to one API error (command-routes.ts), the gap filler just tries again later.
 * - `COMMAND_BAD_ARGS`: the arguments fail the command's schema (contract CommandArgs); nothing was sent
 * - `COMMAND_DEVICE_UNKNOWN`: the registry has never heard of the device
 * - `COMMAND_DEVICE_OFFLINE`: the registry says the device is offline (its will or last status)
 * - `COMMAND_UNAVAILABLE`: not connected to the broker, or replies cannot arrive (no reply subscription)
 * - `COMMAND_BUSY`: too many commands wait for a reply already (refused, not queued)
 * - `COMMAND_TIMEOUT`: no reply within the timeout; the request is forgotten, a late reply dropped
 * - `COMMAND_CLOSED`: the backend is stopping
 */
export type CommandErrorCode =
  | 'COMMAND_BAD_ARGS'
  | 'COMMAND_DEVICE_UNKNOWN'
  | 'COMMAND_DEVICE_OFFLINE'
  | 'COMMAND_UNAVAILABLE'
  | 'COMMAND_BUSY'
  | 'COMMAND_TIMEOUT'
  | 'COMMAND_CLOSED';

export class CommandError extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
    /** COMMAND_DEVICE_OFFLINE: when the backend learnt the device went offline, Unix ms. */
    readonly offlineSince?: number,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}
