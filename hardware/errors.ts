export type HardwareErrorCode = 'HARDWARE_SOCAT_MISSING' | 'HARDWARE_PTY_FAILED' | 'HARDWARE_BAD_OPTION';

export class HardwareError extends Error {
  constructor(
    readonly code: HardwareErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HardwareError';
  }
}
