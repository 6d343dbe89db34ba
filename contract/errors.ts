export type ContractErrorCode = 'CONTRACT_INVALID_SEGMENT' | 'CONTRACT_SETTINGS_INVALID';

/** An error raised by the contract helpers; `code` is stable and safe to match on. */
export class ContractError extends Error {
  constructor(
    readonly code: ContractErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ContractError';
  }
}
