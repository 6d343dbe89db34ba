import { CONTRACT_VERSION } from './version.js';
import {
  type Command,
  type CommandReply,
  CommandReply as CommandReplySchema,
  Command as CommandSchema,
  type DeviceStatus,
  DeviceStatus as DeviceStatusSchema,
  type ReadingBatch,
  ReadingBatch as ReadingBatchSchema,
  type SensorsHealth,
  SensorsHealth as SensorsHealthSchema,
  type StoredConfirmation,
  StoredConfirmation as StoredConfirmationSchema,
} from './payloads.js';
import { compileValidator, type ValidationIssue } from './validation.js';

/**
 * Why a payload was refused. Stable names: they label the rejection metrics of every part.
 * - `too_large`: over the byte limit, refused before parsing
 * - `not_json`: not UTF-8 JSON
 * - `schema`: JSON of the wrong shape or types
 * - `device_mismatch`: the payload names another device than its topic
 * - `seq_order`: seq values not strictly increasing within one batch
 * - `value_quality`: a good/uncertain reading without a finite value
 */
export type RejectCause = 'too_large' | 'not_json' | 'schema' | 'device_mismatch' | 'seq_order' | 'value_quality';
export const REJECT_CAUSES: readonly RejectCause[] = ['too_large', 'not_json', 'schema', 'device_mismatch', 'seq_order', 'value_quality'];

export type Decoded<T> = { ok: true; value: T } | { ok: false; cause: RejectCause; issues: ValidationIssue[] };

/** A readings batch of 1000 readings is about 150 KiB; anything far past that is junk. */
export const MAX_PAYLOAD_BYTES = 512 * 1024;

const checkBatch = compileValidator(ReadingBatchSchema);
const checkStatus = compileValidator(DeviceStatusSchema);
const checkSensors = compileValidator(SensorsHealthSchema);
const checkCommand = compileValidator(CommandSchema);
const checkCommandReply = compileValidator(CommandReplySchema);
const checkStored = compileValidator(StoredConfirmationSchema);

// fatal: invalid UTF-8 is refused as not_json instead of becoming U+FFFD in a stored unit or id.
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(payload: Uint8Array | string, maxBytes: number): Decoded<unknown> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > maxBytes) {
    return { ok: false, cause: 'too_large', issues: [{ path: '/', message: `payload of ${size} bytes exceeds ${maxBytes}` }] };
  }
  try {
    const text = typeof payload === 'string' ? payload : utf8.decode(payload);
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, cause: 'not_json', issues: [{ path: '/', message: (error as Error).message }] };
  }
}

/**
 * Decodes and checks a readings batch published on `telemetry/v1/{topicDevice}/readings`:
 * the schema, then the rules a schema cannot say (device matches topic, seq strictly
 * increasing, a value on every reading that is not `bad`).
 */
export function decodeReadingBatch(topicDevice: string, payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES): Decoded<ReadingBatch> {
  const decoded = decodeWith(checkBatch, topicDevice, payload, maxBytes);
  if (!decoded.ok) return decoded;
  const { readings } = decoded.value;
  for (let i = 1; i < readings.length; i++) {
    const previous = readings[i - 1]?.seq ?? 0;
    const seq = readings[i]?.seq ?? 0;
    if (seq <= previous) {
      const message = `seq ${seq} does not follow ${previous}: seq must strictly increase within a batch`;
      return { ok: false, cause: 'seq_order', issues: [{ path: `/readings/${i}/seq`, message }] };
    }
  }
  const valueless = readings.findIndex((r) => r.quality !== 'bad' && (r.value === null || !Number.isFinite(r.value)));
  if (valueless >= 0) {
    const message = 'a reading of quality good or uncertain needs a finite value (only bad readings carry null)';
    return { ok: false, cause: 'value_quality', issues: [{ path: `/readings/${valueless}/value`, message }] };
  }
  return decoded;
}

function decodeWith<T>(
  check: (value: unknown) => { ok: true; value: T } | { ok: false; issues: ValidationIssue[] },
  topicDevice: string | undefined,
  payload: Uint8Array | string,
  maxBytes: number,
): Decoded<T> {
  const json = decodeJson(payload, maxBytes);
  if (!json.ok) return json;
  const checked = check(json.value);
  if (!checked.ok) return { ok: false, cause: 'schema', issues: checked.issues };
  const device = (checked.value as { device?: unknown }).device;
  if (topicDevice !== undefined && device !== topicDevice) {
    const message = `payload device ${JSON.stringify(device)} differs from topic device ${JSON.stringify(topicDevice)}`;
    return { ok: false, cause: 'device_mismatch', issues: [{ path: '/device', message }] };
  }
  return { ok: true, value: checked.value };
}

export const decodeDeviceStatus = (topicDevice: string, payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES) =>
  decodeWith<DeviceStatus>(checkStatus, topicDevice, payload, maxBytes);
export const decodeSensorsHealth = (topicDevice: string, payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES) =>
  decodeWith<SensorsHealth>(checkSensors, topicDevice, payload, maxBytes);
export function decodeStoredConfirmation(
  topicDevice: string,
  payload: Uint8Array | string,
  maxBytes = MAX_PAYLOAD_BYTES,
): Decoded<StoredConfirmation> {
  const decoded = decodeWith<StoredConfirmation>(checkStored, topicDevice, payload, maxBytes);
  if (!decoded.ok) return decoded;
  // A run must not be reversed: an agent deleting [first, last] must never be told to delete more than was stored.
  for (const [i, { runs }] of decoded.value.boots.entries()) {
    for (const [j, [first, last]] of runs.entries()) {
      if (first > last)
        return {
          ok: false,
          cause: 'schema',
          issues: [{ path: `/boots/${i}/runs/${j}`, message: `run [${first}, ${last}] ends before it starts` }],
        };
    }
  }
  return decoded;
}
export const decodeCommand = (payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES) =>
  decodeWith<Command>(checkCommand, undefined, payload, maxBytes);
export const decodeCommandReply = (payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES) =>
  decodeWith<CommandReply>(checkCommandReply, undefined, payload, maxBytes);

/** Encodes a payload of the contract; typed so that only versioned contract payloads go out. */
export function encodePayload<T extends { v: typeof CONTRACT_VERSION }>(payload: T): Buffer {
  return Buffer.from(JSON.stringify(payload));
}
