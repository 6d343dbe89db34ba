// The duplex harness itself, on a bare aedes with no hooks: packets both ways, deadlines, close.
import { Aedes } from 'aedes';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectDuplex } from './mqtt-duplex.js';

let aedes: Aedes;
beforeEach(async () => {
  aedes = await Aedes.createBroker();
});
afterEach(() => new Promise<void>((resolve) => aedes.close(() => resolve())));

describe('connectDuplex', () => {
  it('carries packets both ways between two clients through aedes.handle()', async () => {
    const subscriber = connectDuplex(aedes);
    expect(await subscriber.connect({ clientId: 'sub' })).toMatchObject({ cmd: 'connack', returnCode: 0 });
    subscriber.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'a/+', qos: 0 }] });
    expect(await subscriber.next()).toMatchObject({ cmd: 'suback', messageId: 5, granted: [0] });
    const publisher = connectDuplex(aedes);
    expect(await publisher.connect({ clientId: 'pub' })).toMatchObject({ returnCode: 0 });
    publisher.send({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false });
    const message = await subscriber.next();
    expect(message).toMatchObject({ cmd: 'publish', topic: 'a/b' });
    expect((message as { payload: Buffer }).payload.toString()).toBe('hello');
  });

  it('rejects next() at its deadline when nothing comes', async () => {
    const client = connectDuplex(aedes);
    await expect(client.next(50)).rejects.toThrow('no packet from the broker within 50 ms');
    expect(client.isClosed()).toBe(false);
  });

  it('rejects a waiting next() when the broker closes the connection, and resolves closed', async () => {
    const client = connectDuplex(aedes);
    expect(await client.connect({ clientId: 'c' })).toMatchObject({ returnCode: 0 });
    const waiting = client.next();
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 0 }] });
    expect(await waiting).toMatchObject({ cmd: 'suback' });
    const afterClose = client.next();
    // aedes' declarations leave `clients` out.
    const { clients } = aedes as unknown as { clients: Record<string, { close(): void } | undefined> };
    clients.c?.close();
    await expect(afterClose).rejects.toThrow('the connection closed before the next packet');
    await client.closed;
    expect(client.isClosed()).toBe(true);
  });
});
