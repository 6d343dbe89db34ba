// Parses the emulated sensor's line protocol (hardware/line-protocol.ts, version 0):
// `T=812.5` is a temperature, `ERR=OPEN` a fault. Anything else is refused with a reason.

export type ParsedLine =
  | { kind: 'value'; value: number }
  | { kind: 'fault'; fault: string }
  | { kind: 'invalid'; reason: 'too_long' | 'unrecognised' | 'not_a_number' };

/** A real line is under 20 bytes; a longer one is noise or a wrong baud rate. */
export const MAX_LINE_LENGTH = 64;

const valueLine = /^T=(.*)$/;
const faultLine = /^ERR=([A-Z_]{1,16})$/;
const decimal = /^[-+]?\d{1,6}(\.\d{1,6})?$/;

export function parseSensorLine(raw: string): ParsedLine {
  const line = raw.trim();
  if (line.length > MAX_LINE_LENGTH) return { kind: 'invalid', reason: 'too_long' };
  const fault = faultLine.exec(line);
  if (fault?.[1]) return { kind: 'fault', fault: fault[1] };
  const value = valueLine.exec(line);
  if (value?.[1] === undefined) return { kind: 'invalid', reason: 'unrecognised' };
  if (!decimal.test(value[1])) return { kind: 'invalid', reason: 'not_a_number' };
  return { kind: 'value', value: Number(value[1]) };
}
