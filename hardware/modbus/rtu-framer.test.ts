import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withCrc } from './crc16.js';
import { type DiscardReason, RtuFramer } from './rtu-framer.js';

const hex = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');

describe('RtuFramer (spec §10.1)', () => {
  let frames: string[];
  let discarded: Array<[number, DiscardReason]>;
  let framer: RtuFramer;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    frames = [];
    discarded = [];
    framer = new RtuFramer(
      (frame) => frames.push(frame.toString('hex')),
      (bytes, reason) => discarded.push([bytes, reason]),
      20,
    );
  });
  afterEach(() => {
    framer.close();
    vi.useRealTimers();
  });

  it('ends a whole request of a known function code at once, even split over chunks or two in one chunk', () => {
    const read = withCrc(hex('01 03 00 00 00 02'));
    framer.push(read.subarray(0, 3));
    expect(frames).toEqual([]);
    framer.push(read.subarray(3));
    expect(frames).toEqual([read.toString('hex')]);
    const write = withCrc(hex('01 10 00 00 00 02 04 21 34 00 00'));
    framer.push(Buffer.concat([write, read]));
    expect(frames).toEqual([read.toString('hex'), write.toString('hex'), read.toString('hex')]);
    vi.advanceTimersByTime(100);
    expect(discarded).toEqual([]);
  });

  it('takes another function code at the silence, as one frame', () => {
    const unknown = withCrc(hex('01 2B 0E 01 00'));
    framer.push(unknown);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(19);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(frames).toEqual([unknown.toString('hex')]);
  });

  it('drops bytes with a bad CRC at the silence, and a request spoiled by noise before it', () => {
    const read = withCrc(hex('01 04 00 00 00 01'));
    const broken = Buffer.from(read);
    broken[7] = (broken[7] ?? 0) ^ 0xff;
    framer.push(broken);
    vi.advanceTimersByTime(20);
    framer.push(Buffer.concat([hex('FF 00 17'), read]));
    vi.advanceTimersByTime(20);
    framer.push(hex('01 04'));
    vi.advanceTimersByTime(20);
    expect(frames).toEqual([]);
    expect(discarded).toEqual([
      [8, 'bad_crc'],
      [11, 'bad_crc'],
      [2, 'too_short'],
    ]);
    // And the next clean request is taken.
    framer.push(read);
    expect(frames).toEqual([read.toString('hex')]);
  });
});
