import { describe, expect, it } from 'vitest';
import { LineEmulator } from '../../hardware/line-emulator.js';
import { parseScenario } from '../../hardware/scenario.js';
import { MAX_LINE_LENGTH, type ParsedLine, parseSensorLine } from './line-parser.js';
import { LineSplitter } from './line-splitter.js';

describe('parseSensorLine: the spec format (hardware/README.md §3 to §6)', () => {
  it.each([
    ['T=812.5,CJ=24.1', { kind: 'value', value: 812.5, coldJunction: 24.1 }],
    ['T=812.5,CJ=24.1\r\n', { kind: 'value', value: 812.5, coldJunction: 24.1 }],
    ['T=-5.0,CJ=-12.5\r', { kind: 'value', value: -5, coldJunction: -12.5 }],
    ['T=0.0,CJ=0.0', { kind: 'value', value: 0, coldJunction: 0 }],
    ['T=812.5', { kind: 'value', value: 812.5 }],
    ['T=-5', { kind: 'value', value: -5 }],
    ['T=1234.56', { kind: 'value', value: 1234.56 }],
    ['  T=100\n', { kind: 'value', value: 100 }],
  ])('reads %j as a value', (line, expected) => {
    expect(parseSensorLine(line)).toEqual(expected);
  });

  it.each([
    ['ERR=OPEN,CJ=24.1\r\n', { kind: 'fault', fault: 'OPEN', coldJunction: 24.1 }],
    ['ERR=SHORT_GND,CJ=24.1', { kind: 'fault', fault: 'SHORT_GND', coldJunction: 24.1 }],
    ['ERR=SHORT_VCC', { kind: 'fault', fault: 'SHORT_VCC' }],
    ['ERR=OPEN\r', { kind: 'fault', fault: 'OPEN' }],
  ])('reads %j as a fault (spec §5)', (line, expected) => {
    expect(parseSensorLine(line)).toEqual(expected);
  });

  it('marks values outside the type K range as out of range, and keeps them (spec §4)', () => {
    expect(parseSensorLine('T=1372.0,CJ=25.0')).toEqual({ kind: 'value', value: 1372, coldJunction: 25 });
    expect(parseSensorLine('T=1372.1,CJ=25.0')).toEqual({ kind: 'value', value: 1372.1, coldJunction: 25, outOfRange: true });
    expect(parseSensorLine('T=-200.5')).toEqual({ kind: 'value', value: -200.5, outOfRange: true });
    expect(parseSensorLine('T=50.0', { format: 'spec', range: { min: 0, max: 40 } })).toEqual({
      kind: 'value',
      value: 50,
      outOfRange: true,
    });
  });

  it('checks a checksum when present, and requires one when told to (spec §6)', () => {
    expect(parseSensorLine('T=812.5,CJ=24.1*48')).toEqual({ kind: 'value', value: 812.5, coldJunction: 24.1 });
    expect(parseSensorLine('ERR=OPEN,CJ=24.1*6D')).toEqual({ kind: 'fault', fault: 'OPEN', coldJunction: 24.1 });
    expect(parseSensorLine('T=812.5,CJ=24.1*49')).toEqual({ kind: 'invalid', reason: 'bad_checksum' });
    expect(parseSensorLine('T=812.6,CJ=24.1*48')).toEqual({ kind: 'invalid', reason: 'bad_checksum' });
    expect(parseSensorLine('T=812.5,CJ=24.1*4')).toEqual({ kind: 'invalid', reason: 'bad_checksum' });
    expect(parseSensorLine('T=812.5,CJ=24.1*48', { format: 'spec', checksum: 'required' })).toMatchObject({ kind: 'value' });
    expect(parseSensorLine('T=812.5,CJ=24.1', { format: 'spec', checksum: 'required' })).toEqual({
      kind: 'invalid',
      reason: 'missing_checksum',
    });
  });

  it.each([
    ['garbage', 'hello world'],
    ['empty line', ''],
    ['CR LF alone', '\r\n'],
    ['lower-case key', 't=812.5'],
    ['fault with lower case', 'ERR=open'],
    ['fault without a name', 'ERR='],
    ['two lines run together', 'T=1.0\nT=2.0'],
    ['a cut line joined to the next', 'T=81T=812.6,CJ=24.1'],
    ['the tail of a line', '2.5,CJ=24.1'],
    ['fields in the wrong order', 'CJ=24.1,T=812.5'],
    ['an unknown field', 'T=812.5,RH=40'],
    ['a blank inside', 'T= 812.5'],
  ])('refuses %s as unrecognised', (_what, line) => {
    expect(parseSensorLine(line)).toEqual({ kind: 'invalid', reason: 'unrecognised' });
  });

  it.each([
    ['letters', 'T=abc'],
    ['exponent notation', 'T=1e5'],
    ['nothing after =', 'T='],
    ['two decimal points', 'T=1.2.3'],
    ['trailing dot', 'T=12.'],
    ['a plus sign', 'T=+12.5'],
    ['three decimals', 'T=12.125'],
    ['Infinity', 'T=Infinity'],
    ['NaN', 'T=NaN'],
    ['hexadecimal', 'T=0x10'],
    ['trailing unit', 'T=812.5C'],
    ['five integer digits', 'T=12345'],
    ['a bad cold junction', 'T=812.5,CJ=warm'],
  ])('refuses %s as not_a_number', (_what, line) => {
    expect(parseSensorLine(line)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
  });

  it('refuses a well-formed fault code the spec does not know as unknown_fault', () => {
    expect(parseSensorLine('ERR=SHORT')).toEqual({ kind: 'invalid', reason: 'unknown_fault' });
    expect(parseSensorLine('ERR=OVERTEMP,CJ=24.1')).toEqual({ kind: 'invalid', reason: 'unknown_fault' });
  });

  it('refuses a line longer than MAX_LINE_LENGTH as too_long, measured after trimming', () => {
    const atLimit = `T=${'1'.repeat(MAX_LINE_LENGTH - 2)}`;
    expect(parseSensorLine(atLimit)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
    expect(parseSensorLine(`${atLimit}1`)).toEqual({ kind: 'invalid', reason: 'too_long' });
    expect(parseSensorLine('x'.repeat(10_000))).toEqual({ kind: 'invalid', reason: 'too_long' });
    expect(parseSensorLine(`T=1111${' '.repeat(MAX_LINE_LENGTH)}\r\n`)).toEqual({ kind: 'value', value: 1111 });
  });

  it('works as an Array.map callback (the index is not taken for options)', () => {
    expect(['T=1.0', 'ERR=OPEN'].map(parseSensorLine)).toEqual([
      { kind: 'value', value: 1 },
      { kind: 'fault', fault: 'OPEN' },
    ]);
  });

  it('never throws on random bytes and refuses them', () => {
    // A fixed pseudo-random series (LCG) so a failure can be replayed.
    let state = 12345;
    const nextByte = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state >>> 24;
    };
    const reasons = new Set<string>();
    for (let i = 0; i < 500; i += 1) {
      // A leading NUL (which trim() keeps) so no sample can spell a valid line by chance.
      const line = `\0${Buffer.from(Array.from({ length: i % 100 }, nextByte)).toString('latin1')}`;
      const expected = line.trim().length > MAX_LINE_LENGTH ? 'too_long' : 'unrecognised';
      expect(parseSensorLine(line)).toEqual({ kind: 'invalid', reason: expected });
      reasons.add(expected);
    }
    expect(reasons).toEqual(new Set(['too_long', 'unrecognised']));
  });
});

describe('parseSensorLine: the variants (spec §8)', () => {
  it('reads a bare number per line', () => {
    const number = { format: 'number' } as const;
    expect(parseSensorLine('812.5\r\n', number)).toEqual({ kind: 'value', value: 812.5 });
    expect(parseSensorLine('+12', number)).toEqual({ kind: 'value', value: 12 });
    expect(parseSensorLine('1500', number)).toEqual({ kind: 'value', value: 1500, outOfRange: true });
    expect(parseSensorLine('T=812.5', number)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
    expect(parseSensorLine('1e3', number)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
  });

  it('reads a JSON object per line, the value under the configured key', () => {
    const json = { format: 'json', key: 'temp' } as const;
    expect(parseSensorLine('{"temp":812.5,"cj":24.1}\r\n', json)).toEqual({ kind: 'value', value: 812.5 });
    expect(parseSensorLine('{"temp":null}', json)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
    expect(parseSensorLine('{"temp":"812.5"}', json)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
    expect(parseSensorLine('{"other":1}', json)).toEqual({ kind: 'invalid', reason: 'unrecognised' });
    expect(parseSensorLine('{"temp":1', json)).toEqual({ kind: 'invalid', reason: 'unrecognised' });
    expect(parseSensorLine('[812.5]', json)).toEqual({ kind: 'invalid', reason: 'unrecognised' });
    expect(parseSensorLine('{}', { format: 'json', key: 'constructor' })).toEqual({ kind: 'invalid', reason: 'unrecognised' });
  });

  it('reads CSV with the value in the configured column', () => {
    const csv = { format: 'csv', column: 1 } as const;
    expect(parseSensorLine('2025-01-05T10:00:00Z,812.5,24.1\r\n', csv)).toEqual({ kind: 'value', value: 812.5 });
    expect(parseSensorLine('a, "812.5" ,b', csv)).toEqual({ kind: 'value', value: 812.5 });
    expect(parseSensorLine('812.5;24.1', { format: 'csv', column: 0, separator: ';' })).toEqual({ kind: 'value', value: 812.5 });
    expect(parseSensorLine('only-one-field', csv)).toEqual({ kind: 'invalid', reason: 'unrecognised' });
    expect(parseSensorLine('x,hot,y', csv)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
  });

  it('takes longer lines in the variants than in the spec', () => {
    const line = `${'x'.repeat(100)},812.5`;
    expect(parseSensorLine(line, { format: 'csv', column: 1 })).toEqual({ kind: 'value', value: 812.5 });
    expect(parseSensorLine(line, { format: 'csv', column: 1, maxLength: 50 })).toEqual({ kind: 'invalid', reason: 'too_long' });
  });
});

/** What the agent makes of the emulator's bytes, through its own splitter and parser. */
function parseEmulated(scenario: string, ticks: number, checksum = false): ParsedLine[] {
  const parsed: ParsedLine[] = [];
  const splitter = new LineSplitter(
    (line) => parsed.push(parseSensorLine(line)),
    () => parsed.push({ kind: 'invalid', reason: 'too_long' }),
  );
  const emulator = new LineEmulator({
    seed: 7,
    intervalMs: 1000,
    speed: 10,
    checksum,
    scenario: parseScenario(scenario),
    write: (data) => splitter.push(data),
  });
  for (let i = 0; i < ticks; i++) emulator.tick();
  return parsed;
}

const count = (parsed: ParsedLine[], what: (line: ParsedLine) => boolean) => parsed.filter(what).length;

describe('the agent parser and the emulator (hardware/README.md §19.3) agree', () => {
  it('reads every line of a healthy emulator as a good value, with and without checksums', () => {
    for (const checksum of [false, true]) {
      const parsed = parseEmulated('', 400, checksum);
      expect(parsed).toHaveLength(400);
      parsed.forEach((line) => expect(line).toMatchObject({ kind: 'value', coldJunction: expect.any(Number) as number }));
      parsed.forEach((line) => expect(line).not.toHaveProperty('outOfRange'));
    }
  });

  it.each([
    ['tc-open', 'OPEN'],
    ['tc-short-gnd', 'SHORT_GND'],
    ['tc-short-vcc', 'SHORT_VCC'],
  ] as const)('reads %s as exactly the fault lines of its window', (fault, code) => {
    const parsed = parseEmulated(`${fault}@60+120`, 30);
    expect(parsed).toHaveLength(30);
    expect(parsed.map((line) => line.kind === 'fault' && line.fault)).toEqual(
      Array.from({ length: 30 }, (_, i) => i >= 5 && i < 17 && code),
    );
  });

  it('refuses the crc-errors lines as bad_checksum, and only them', () => {
    const parsed = parseEmulated('crc-errors@50+50', 20, true);
    expect(parsed.map((line) => line.kind === 'invalid' && line.reason)).toEqual(
      Array.from({ length: 20 }, (_, i) => i >= 4 && i < 9 && 'bad_checksum'),
    );
  });

  it.each(['noise', 'partial', 'baud-mismatch'])('never takes a value out of %s garbage, and reads the clean lines around it', (fault) => {
    for (const checksum of [false, true]) {
      const parsed = parseEmulated(`${fault}@1000+2000`, 400, checksum);
      // Lines 1 to 99 before the window; the window's 200 lines are garbage or, for noise and partial, often intact.
      parsed.slice(0, 99).forEach((line) => expect(line.kind).toBe('value'));
      expect(count(parsed, (line) => line.kind === 'invalid')).toBeGreaterThan(0);
      // Every value read is a value the healthy emulator sent at some line.
      const healthy = new Set(parseEmulated('', 400).map((line) => line.kind === 'value' && line.value));
      parsed.forEach((line) => line.kind === 'value' && expect(healthy.has(line.value)).toBe(true));
      // After the window at most one line is lost (the one the garbage ran into).
      expect(count(parsed.slice(-98), (line) => line.kind === 'value')).toBeGreaterThanOrEqual(97);
    }
  });

  it("reads an overheating furnace's values past 1372 °C as out of range (uncertain)", () => {
    const parsed = parseEmulated('overheat', 0);
    expect(parsed).toEqual([]);
    const hot: ParsedLine[] = [];
    const emulator = new LineEmulator({
      seed: 1,
      intervalMs: 1000,
      speed: 60,
      scenario: parseScenario('overheat'),
      write: (data) => hot.push(parseSensorLine(data.toString('latin1'))),
    });
    for (let i = 0; i < 300; i++) emulator.tick(); // five simulated hours
    expect(hot.at(-1)).toMatchObject({ kind: 'value', outOfRange: true });
    expect(hot.at(0)).not.toHaveProperty('outOfRange');
  });
});
