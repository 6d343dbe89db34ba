// Every error hardware/ throws carries one of these codes; the CLI prints `CODE: message`.
export type HardwareErrorCode =
  /** socat is not installed: the pseudo-terminal transport cannot run. */
  | 'HARDWARE_SOCAT_MISSING'
  /** socat ran but did not make the pair of pseudo-terminals. */
  | 'HARDWARE_PTY_FAILED'
  /** The TCP transport could not listen (port in use, bad host). */
  | 'HARDWARE_TCP_LISTEN_FAILED'
  /** A command-line option or emulator option is not allowed; the message names it. */
  | 'HARDWARE_BAD_OPTION'
  /** A scenario timeline (spec §19) could not be read. */
  | 'HARDWARE_BAD_SCENARIO'
  /** A firing program (spec §18) could not be read. */
  | 'HARDWARE_BAD_PROGRAM';

export class HardwareError extends Error {
  constructor(
    readonly code: HardwareErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HardwareError';
  }
}
