import { Writable } from 'node:stream';
import type { AedesPublishPacket } from 'aedes';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from './write-coalescing.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A stream that records each batch it is handed, and a deliver that writes in a setImmediate, as aedes does. */
function setup() {
  const batches: string[][] = [];
  const stream = new Writable({
    writev(chunks, callback) {
      batches.push(chunks.map(({ chunk }) => String(chunk)));
      callback();
    },
    write(chunk, _encoding, callback) {
      batches.push([String(chunk)]);
      callback();
    },
  });
  const deliver = coalesceWrites(stream, (packet, done) => setImmediate(() => stream.write(String(packet.payload), done)));
  const send = (text: string) => deliver({ payload: Buffer.from(text) } as AedesPublishPacket, () => undefined);
  return { batches, send };
}

describe('coalesceWrites', () => {
  it("hands the stream one batch for all the deliveries of a turn, in order, and the next turn's apart", async () => {
    const { batches, send } = setup();
    ['a', 'b', 'c', 'd'].forEach(send);
    await turn();
    await turn();
    send('e');
    await turn();
    await turn();
    expect(batches).toEqual([['a', 'b', 'c', 'd'], ['e']]);
  });

  it('keeps deliveries made during the flush turn corked until their own writes are queued', async () => {
    const { batches, send } = setup();
    send('a');
    setImmediate(() => ['b', 'c'].forEach(send)); // queued between aedes' write of a and the flush
    for (let i = 0; i < 4; i += 1) await turn();
    expect(batches.flat()).toEqual(['a', 'b', 'c']);
    expect(batches.length).toBeLessThanOrEqual(2);
  });
});
