// The MQTT contract, version 1: the one thing every part shares.
export { CONTRACT_VERSION } from './version.js';
export { ContractError, type ContractErrorCode } from './errors.js';
export { SEGMENT_PATTERN, isDeviceId, assertSegment } from './device-id.js';
export { type ContractTopic, topics, filters, parseTopic } from './topics.js';
export {
  Reading,
  ReadingBatch,
  MAX_READINGS_PER_BATCH,
  Quality,
  ClockState,
  SensorInfo,
  DeviceStatus,
  SensorState,
  SensorsHealth,
  Severity,
  AlertState,
  AlertTransition,
  StoredConfirmation,
  MAX_CONFIRMED_BOOTS,
  MAX_CONFIRMED_RUNS,
  COMMAND_NAMES,
  type CommandName,
  Command,
  CommandOutcome,
  CommandReply,
  CommandArgs,
} from './payloads.js';
export { type ValidationIssue, type Validated, compileValidator, formatIssues } from './validation.js';
export {
  type RejectCause,
  type Decoded,
  REJECT_CAUSES,
  MAX_PAYLOAD_BYTES,
  decodeReadingBatch,
  decodeDeviceStatus,
  decodeSensorsHealth,
  decodeCommand,
  decodeCommandReply,
  decodeStoredConfirmation,
  encodePayload,
} from './codec.js';
export { type SettingsSources, SettingsError, envName, loadSettings } from './settings.js';
