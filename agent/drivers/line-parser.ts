// Parses one sensor line. The default format is the line protocol of hardware/README.md
// (spec §3 to §6); three common variants (spec §8) are options. Anything else is refused
// with a reason, never guessed at.

/** Spec §5: the thermocouple faults a MAX31855-style amplifier reports. */
export type SensorFaultCode = 'OPEN' | 'SHORT_GND' | 'SHORT_VCC';
const FAULT_CODES: readonly string[] = ['OPEN', 'SHORT_GND', 'SHORT_VCC'] satisfies SensorFaultCode[];

export type InvalidReason = 'too_long' | 'unrecognised' | 'not_a_number' | 'unknown_fault' | 'bad_checksum' | 'missing_checksum';

export type ParsedLine =
  /** `outOfRange` is set (true) only when the value lies outside the sensor's range (spec §4). */
  | { kind: 'value'; value: number; coldJunction?: number; outOfRange?: true }
  | { kind: 'fault'; fault: SensorFaultCode; coldJunction?: number }
  | { kind: 'invalid'; reason: InvalidReason };

export type LineFormat =
  /** Spec §3 to §6. `checksum: 'required'` refuses lines without `*HH`; by default it is checked when present. */
  | { format: 'spec'; checksum?: 'optional' | 'required' }
  /** Spec §8.1: a bare decimal number per line, e.g. `812.5`. */
  | { format: 'number' }
  /** Spec §8.2: one JSON object per line, the value under `key`, e.g. `{"T":812.5}`. */
  | { format: 'json'; key: string }
  /** Spec §8.3: comma-separated (or `separator`) fields, the value in field `column` (0 is the first). */
  | { format: 'csv'; column: number; separator?: string };

export type LineParserOptions = LineFormat & {
  /** Spec §4: values outside are `outOfRange` (default the type K thermocouple, -200 to 1372 °C). */
  range?: { min: number; max: number };
  /** Longest line taken, after trimming (default MAX_LINE_LENGTH for spec lines, 4 times that for the variants). */
  maxLength?: number;
};

/** Spec §3.3: a spec line is at most 32 bytes; twice that is refused as noise or a wrong baud rate. */
export const MAX_LINE_LENGTH = 64;

/** Spec §4: the type K thermocouple's range, °C. */
export const TYPE_K_RANGE = { min: -200, max: 1372 } as const;

export const SPEC_FORMAT: LineParserOptions = { format: 'spec' };

// Spec §3.1, §5, §6: `T=<number>` or `ERR=<code>`, then an optional `,CJ=<number>`, then an optional `*HH`.
const specLine = /^(?:T=([^,*=\s]*)|ERR=([^,*=\s]*))(?:,CJ=([^,*=\s]*))?(?:\*(.*))?$/;
// Spec §3.2: an optional minus sign, 1 to 4 digits, optionally a point and 1 or 2 decimals.
const specNumber = /^-?\d{1,4}(\.\d{1,2})?$/;
// Spec §8: the variants' numbers, a little wider (a sign, up to 6 + 6 digits), never exponents or hex.
const variantNumber = /^[-+]?\d{1,6}(\.\d{1,6})?$/;

/** Parses one line in the spec's format (spec §3 to §6). */
export function parseSensorLine(raw: string): ParsedLine;
/** Parses one line in the given format. */
export function parseSensorLine(raw: string, options: LineParserOptions): ParsedLine;
export function parseSensorLine(raw: string, options?: LineParserOptions | number): ParsedLine {
  // `lines.map(parseSensorLine)` passes the index as the second argument: only an object is options.
  const format = typeof options === 'object' ? options : SPEC_FORMAT;
  const line = raw.trim();
  const maxLength = format.maxLength ?? (format.format === 'spec' ? MAX_LINE_LENGTH : MAX_LINE_LENGTH * 4);
  if (line.length > maxLength) return { kind: 'invalid', reason: 'too_long' };
  const parsed = parseFormat(line, format);
  if (parsed.kind !== 'value') return parsed;
  const range = format.range ?? TYPE_K_RANGE;
  return parsed.value < range.min || parsed.value > range.max ? { ...parsed, outOfRange: true } : parsed;
}

function parseFormat(line: string, format: LineFormat): ParsedLine {
  switch (format.format) {
    case 'spec':
      return parseSpecLine(line, format.checksum ?? 'optional');
    case 'number':
      return numberValue(line);
    case 'json':
      return parseJsonLine(line, format.key);
    case 'csv': {
      const field = line.split(format.separator ?? ',')[format.column];
      if (field === undefined) return { kind: 'invalid', reason: 'unrecognised' };
      return numberValue(field.trim().replace(/^"(.*)"$/, '$1'));
    }
  }
}

function parseSpecLine(line: string, checksum: 'optional' | 'required'): ParsedLine {
  const match = specLine.exec(line);
  if (!match) return { kind: 'invalid', reason: 'unrecognised' };
  const [, value, fault, coldJunction, sum] = match;
  // Spec §6: the XOR of every byte before `*`, two upper-case hexadecimal digits.
  if (sum === undefined) {
    if (checksum === 'required') return { kind: 'invalid', reason: 'missing_checksum' };
  } else if (!/^[0-9A-F]{2}$/.test(sum) || Number.parseInt(sum, 16) !== xorOf(line.slice(0, line.lastIndexOf('*')))) {
    return { kind: 'invalid', reason: 'bad_checksum' };
  }
  if (coldJunction !== undefined && !specNumber.test(coldJunction)) return { kind: 'invalid', reason: 'not_a_number' };
  const cj = coldJunction === undefined ? {} : { coldJunction: Number(coldJunction) };
  if (fault !== undefined) {
    // Spec §5: only the three codes are faults; another well-formed code is a device we do not know.
    if (FAULT_CODES.includes(fault)) return { kind: 'fault', fault: fault as SensorFaultCode, ...cj };
    return { kind: 'invalid', reason: /^[A-Z_]{1,16}$/.test(fault) ? 'unknown_fault' : 'unrecognised' };
  }
  if (value === undefined || !specNumber.test(value)) return { kind: 'invalid', reason: 'not_a_number' };
  return { kind: 'value', value: Number(value), ...cj };
}

function numberValue(text: string): ParsedLine {
  if (!variantNumber.test(text)) return { kind: 'invalid', reason: 'not_a_number' };
  return { kind: 'value', value: Number(text) };
}

function parseJsonLine(line: string, key: string): ParsedLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'unrecognised' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.hasOwn(parsed, key)) {
    return { kind: 'invalid', reason: 'unrecognised' };
  }
  const value = (parsed as Record<string, unknown>)[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) return { kind: 'invalid', reason: 'not_a_number' };
  return { kind: 'value', value };
}

function xorOf(text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum ^= text.charCodeAt(i) & 0xff;
  return sum;
}
