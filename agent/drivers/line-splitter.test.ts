import { describe, expect, it } from 'vitest';
import { MAX_LINE_LENGTH, parseSensorLine } from './line-parser.js';
import { LineSplitter } from './line-splitter.js';

/** A splitter that records what it delivers. */
function recorder(maxLength?: number) {
  const lines: string[] = [];
  const overlong: number[] = [];
  const splitter = new LineSplitter(
    (line) => lines.push(line),
    (bytes) => overlong.push(bytes),
    maxLength,
  );
  const push = (...chunks: (string | Buffer)[]) =>
    chunks.forEach((chunk) => splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk));
  return { lines, overlong, push };
}

describe('LineSplitter', () => {
  it('joins a line split across chunks, and holds a partial line until its newline', () => {
    const { lines, push } = recorder();
    push('T=81', '2.', '5');
    expect(lines).toEqual([]);
    push('\nT=8', '13.0\n');
    expect(lines).toEqual(['T=812.5', 'T=813.0']);
  });

  it('delivers several lines of one chunk in order', () => {
    const { lines, push } = recorder();
    push('T=1.0\nT=2.0\nERR=OPEN\nT=3.0\nT=4');
    expect(lines).toEqual(['T=1.0', 'T=2.0', 'ERR=OPEN', 'T=3.0']);
  });

  it('splits CR LF lines on the LF and leaves the CR for the parser to trim', () => {
    const { lines, push } = recorder();
    push('T=812.5\r\nERR=OPEN\r', '\nT=-5\r\n');
    expect(lines).toEqual(['T=812.5\r', 'ERR=OPEN\r', 'T=-5\r']);
    expect(lines.map(parseSensorLine)).toEqual([
      { kind: 'value', value: 812.5 },
      { kind: 'fault', fault: 'OPEN' },
      { kind: 'value', value: -5 },
    ]);
  });

  it('delivers empty lines as empty strings (the parser refuses them)', () => {
    const { lines, push } = recorder();
    push('\n\r\nT=1.0\n');
    expect(lines).toEqual(['', '\r', 'T=1.0']);
  });

  it('reports overlong junk without a newline once, discards it, and delivers the next good line', () => {
    const max = MAX_LINE_LENGTH * 4; // the default limit
    const { lines, overlong, push } = recorder();
    push('T=1.0\n');
    push('x'.repeat(max)); // at the limit: still a possible line
    expect(overlong).toEqual([]);
    push('x');
    expect(overlong).toEqual([max + 1]);
    // More junk, even past the limit again, is not reported a second time.
    for (let i = 0; i < 5; i += 1) push('y'.repeat(max));
    push('zzz'); // the rest of the junk, up to its newline, is thrown away
    push('zz\nT=2.0\n');
    expect(overlong).toEqual([max + 1]);
    expect(lines).toEqual(['T=1.0', 'T=2.0']);
    // The splitter is back to normal: a new run of junk is reported again.
    push('q'.repeat(max + 10));
    expect(overlong).toEqual([max + 1, max + 10]);
  });

  it('gives overlong junk the same verdict whether it comes in one chunk or in several', () => {
    const max = MAX_LINE_LENGTH * 4;
    const whole = recorder();
    whole.push(`${'x'.repeat(max + 44)}\nT=1.0\n`);
    const split = recorder();
    split.push('x'.repeat(max - 6));
    split.push(`${'x'.repeat(50)}\nT=1.0\n`);
    expect(whole.lines).toEqual(['T=1.0']);
    expect(split.lines).toEqual(['T=1.0']);
    expect(whole.overlong).toHaveLength(1);
    expect(split.overlong).toHaveLength(1);
  });

  it('honours a smaller limit given to the constructor', () => {
    const { lines, overlong, push } = recorder(8);
    push('123456789');
    push('\nT=1.0\n');
    expect(overlong).toEqual([9]);
    expect(lines).toEqual(['T=1.0']);
  });

  it('never throws on binary junk, and finds the lines around it', () => {
    const { lines, push } = recorder();
    const junk = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x1b, 0x7f, 0xe2, 0x82]);
    expect(() => push(junk, Buffer.from('\nT=5.5\n'), junk, junk, Buffer.from([0x0a]), 'ERR=OPEN\n')).not.toThrow();
    expect(lines.slice(1)).toEqual(['T=5.5', junk.toString('latin1').repeat(2), 'ERR=OPEN']);
    // latin1: one character per byte, so the junk line keeps its exact byte length.
    expect(lines[0]).toHaveLength(junk.length);
    expect(Buffer.from(lines[0] ?? '', 'latin1')).toEqual(junk);
  });
});
