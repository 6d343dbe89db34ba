import { describe, expect, it } from 'vitest';
import { MAX_LINE_LENGTH, parseSensorLine } from './line-parser.js';

describe('parseSensorLine', () => {
  it.each([
    ['T=812.5', 812.5],
    ['T=-5', -5],
    ['T=0.0', 0],
    ['T=1234.5\r\n', 1234.5],
    ['T=20.3\r', 20.3],
    ['  T=100\n', 100],
  ])('reads %j as the value %d', (line, value) => {
    expect(parseSensorLine(line)).toEqual({ kind: 'value', value });
  });

  it.each([
    ['ERR=OPEN', 'OPEN'],
    ['ERR=OPEN\r\n', 'OPEN'],
    ['ERR=SHORT\r\n', 'SHORT'],
  ])('reads %j as the fault %s', (line, fault) => {
    expect(parseSensorLine(line)).toEqual({ kind: 'fault', fault });
  });

  it.each([
    ['garbage', 'hello world'],
    ['empty line', ''],
    ['CR LF alone', '\r\n'],
    ['lower-case key', 't=812.5'],
    ['fault with lower case', 'ERR=open'],
    ['fault without a name', 'ERR='],
    ['two lines run together', 'T=1.0\nT=2.0'],
  ])('refuses %s as unrecognised', (_what, line) => {
    expect(parseSensorLine(line)).toEqual({ kind: 'invalid', reason: 'unrecognised' });
  });

  it.each([
    ['letters', 'T=abc'],
    ['exponent notation', 'T=1e5'],
    ['nothing after =', 'T='],
    ['two decimal points', 'T=1.2.3'],
    ['trailing dot', 'T=12.'],
    ['Infinity', 'T=Infinity'],
    ['NaN', 'T=NaN'],
    ['hexadecimal', 'T=0x10'],
    ['trailing unit', 'T=812.5C'],
    ['more than six integer digits', 'T=1234567'],
  ])('refuses %s as not_a_number', (_what, line) => {
    expect(parseSensorLine(line)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
  });

  it('refuses a line longer than MAX_LINE_LENGTH as too_long, but takes one just at the limit', () => {
    const atLimit = `T=${'1'.repeat(MAX_LINE_LENGTH - 2)}`;
    expect(atLimit).toHaveLength(MAX_LINE_LENGTH);
    // At the limit it is judged on its content (too many digits), not its length.
    expect(parseSensorLine(atLimit)).toEqual({ kind: 'invalid', reason: 'not_a_number' });
    expect(parseSensorLine(`${atLimit}1`)).toEqual({ kind: 'invalid', reason: 'too_long' });
    expect(parseSensorLine('x'.repeat(10_000))).toEqual({ kind: 'invalid', reason: 'too_long' });
  });

  it('measures the length after trimming CR LF and blanks', () => {
    const line = `T=${'1'.repeat(4)}${' '.repeat(MAX_LINE_LENGTH)}\r\n`;
    expect(parseSensorLine(line)).toEqual({ kind: 'value', value: 1111 });
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
      // A leading NUL (which trim() keeps) so no sample can spell a valid "T=" or "ERR=" line by chance.
      const line = `\0${Buffer.from(Array.from({ length: i % 100 }, nextByte)).toString('latin1')}`;
      const expected = line.trim().length > MAX_LINE_LENGTH ? 'too_long' : 'unrecognised';
      expect(parseSensorLine(line)).toEqual({ kind: 'invalid', reason: expected });
      reasons.add(expected);
    }
    expect(reasons).toEqual(new Set(['too_long', 'unrecognised']));
  });
});
