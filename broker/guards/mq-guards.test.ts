import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait-for.js';
import { guardMqEmitter } from './mq-guards.js';

interface Mq {
  on(topic: string, listener: (message: unknown, done: () => void) => void, ready?: () => void): void;
  removeListener(topic: string, listener: (message: unknown, done: () => void) => void, done?: () => void): void;
  emit(message: { topic: string }, done?: () => void): void;
}

const brokers: Aedes[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => new Promise<void>((resolve) => broker.close(() => resolve()))));
});

/**
 * The crash: a listener holds every slot (a frozen subscriber), messages queue behind it, the
 * listener goes (the subscriber is killed) and the slots are freed. Returns how many emits completed.
 */
async function frozenThenKilled(guard: boolean, queued: number): Promise<{ release: () => void; completed: () => number }> {
  const broker = await Aedes.createBroker();
  brokers.push(broker);
  const mq = (broker as unknown as { mq: Mq }).mq;
  if (guard) guardMqEmitter(mq);
  const held: Array<() => void> = [];
  const frozen = (_message: unknown, done: () => void) => held.push(done);
  await new Promise<void>((resolve) => mq.on('flood', frozen, resolve));
  let completed = 0;
  for (let i = 0; i < queued; i += 1) mq.emit({ topic: 'flood' }, () => (completed += 1));
  await new Promise<void>((resolve) => mq.removeListener('flood', frozen, resolve));
  return { release: () => held.splice(0).forEach((done) => done()), completed: () => completed };
}

describe('guardMqEmitter', () => {
  it('bare mqemitter overflows the stack draining a queue nobody listens to any more', async () => {
    const { release } = await frozenThenKilled(false, 20_000);
    expect(release).toThrow(RangeError);
  });

  it('with the guard, the same queue drains completely', async () => {
    const { release, completed } = await frozenThenKilled(true, 20_000);
    expect(release).not.toThrow();
    await waitFor(() => completed() === 20_000, { timeoutMs: 10_000, what: 'every queued message to complete' });
  });
});
