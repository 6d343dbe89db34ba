import { describe, expect, it } from 'vitest';
import { Closers } from './closers.js';

describe('Closers', () => {
  it('closes newest first, once, even when called twice', async () => {
    const closed: string[] = [];
    const closers = new Closers();
    closers.add(() => closed.push('store'));
    closers.add(async () => {
      await Promise.resolve();
      closed.push('ingest');
    });
    closers.add(() => closed.push('http'));
    await Promise.all([closers.close(), closers.close()]);
    expect(closed).toEqual(['http', 'ingest', 'store']);
  });

  it('runs every closer when one throws, then throws the first error', async () => {
    const closed: string[] = [];
    const closers = new Closers();
    closers.add(() => closed.push('store'));
    closers.add(() => {
      throw new Error('first');
    });
    closers.add(() => {
      throw new Error('second');
    });
    await expect(closers.close()).rejects.toThrow('second');
    expect(closed).toEqual(['store']);
  });

  it('unwinds what was built when a part fails to build, and throws the build error', async () => {
    const closed: string[] = [];
    const unwindErrors: unknown[] = [];
    const closers = new Closers((error) => unwindErrors.push(error));
    const store = await closers.build(
      () => 'store',
      (part) => closed.push(part),
    );
    closers.add(() => {
      throw new Error('close failed');
    });
    await expect(
      closers.build(() => {
        throw new Error('registry failed');
      }),
    ).rejects.toThrow('registry failed');
    expect(store).toBe('store');
    expect(closed).toEqual(['store']);
    expect(unwindErrors).toEqual([new Error('close failed')]);
  });

  it('unwinds when a step of the start fails', async () => {
    const closed: string[] = [];
    const closers = new Closers();
    closers.add(() => closed.push('store'));
    await expect(closers.step(() => Promise.reject(new Error('listen failed')))).rejects.toThrow('listen failed');
    expect(closed).toEqual(['store']);
  });

  it('closes what was built when a step of a synchronous start throws, and rethrows at once', async () => {
    const closed: string[] = [];
    const closers = new Closers();
    closers.add(() => closed.push('outbox'));
    closers.add(async () => {
      await Promise.resolve();
      closed.push('mqtt');
    });
    expect(() =>
      closers.stepSync(() => {
        throw new Error('no such driver');
      }),
    ).toThrow('no such driver');
    await closers.close();
    expect(closed).toEqual(['mqtt', 'outbox']);
  });

  it('returns what a synchronous step built and closes nothing', async () => {
    const closed: string[] = [];
    const closers = new Closers();
    closers.add(() => closed.push('outbox'));
    expect(closers.stepSync(() => 'agent')).toBe('agent');
    expect(closed).toEqual([]);
    await closers.close();
    expect(closed).toEqual(['outbox']);
  });
});
