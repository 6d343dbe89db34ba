// The emulator's error catalogue, as fastify's lib/errors.js keeps its own: each stable code beside
// its default message (what it means; a throw site may say more). The CLI prints `CODE: message`.
export const HARDWARE_ERRORS = {
  HARDWARE_SOCAT_MISSING: { message: 'socat is not installed: the pseudo-terminal transport cannot run' },
  HARDWARE_PTY_FAILED: { message: 'socat ran but did not make the pair of pseudo-terminals' },
  HARDWARE_TCP_LISTEN_FAILED: { message: 'the TCP transport could not listen (port in use, bad host)' },
  HARDWARE_BAD_OPTION: { message: 'a command-line option or emulator option is not allowed' },
  HARDWARE_BAD_SCENARIO: { message: 'a scenario timeline (spec §19) could not be read' },
  HARDWARE_BAD_PROGRAM: { message: 'a firing program (spec §18) could not be read' },
  /** What furnace-emulator prints for a failure that carries no code of this catalogue. */
  HARDWARE_FAILED: { message: 'an unexpected error stopped the emulator' },
} as const satisfies Record<string, { message: string }>;
export type HardwareErrorCode = keyof typeof HARDWARE_ERRORS;

// Its own class, not contract/coded-error.ts: the emulator stands alone and imports nothing of the
// project (DESIGN.md), so that it can be lifted out as a separate tool.
export class HardwareError extends Error {
  constructor(
    readonly code: HardwareErrorCode,
    message: string = HARDWARE_ERRORS[code].message,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HardwareError';
  }
}
