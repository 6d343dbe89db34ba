// Sessions through the real hooks on a duplex client: filled by authenticate at CONNECT, ended
// when the connection closes, and a client whose credentials change disconnected.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HookedAedes, startHookedAedes } from '../../test/helpers/hooked-aedes.js';
import type { DuplexClient } from '../../test/helpers/mqtt-duplex.js';
import { USERS } from '../../test/helpers/test-broker.js';
import { readCredentialsFile, writeCredentialsFile } from '../access/credentials.js';
import { hashPassword } from '../access/password-hash.js';

let broker: HookedAedes;
beforeEach(async () => {
  broker = await startHookedAedes();
});
afterEach(() => broker.close());

function only<T>(items: readonly T[]): T {
  const [item] = items;
  if (items.length !== 1 || item === undefined) throw new Error(`expected one item, got ${items.length}`);
  return item;
}

const connected = () => [...broker.ctx.sessions.connected()].map(([client, session]) => ({ client, session }));

describe('sessions', () => {
  it('are filled at CONNECT with the credential, rights and connection, and emptied on close', async () => {
    const client = broker.connect({ remoteAddress: '198.51.100.7', listener: 'ws' });
    const { devA } = USERS;
    expect(await client.connect({ clientId: devA.username, username: devA.username, password: Buffer.from(devA.password) })).toMatchObject({
      cmd: 'connack',
      returnCode: 0,
    });
    const live = connected();
    expect(live).toHaveLength(1);
    const { client: aedesClient, session } = only(live);
    expect(aedesClient.id).toBe('dev-a');
    expect(session.credential?.username).toBe('dev-a');
    expect(session.rights.role).toBe('device');
    expect(session.info).toEqual({ listener: 'ws', remoteAddress: '198.51.100.7', certificateName: undefined });
    expect(broker.ctx.sessions.connectOf(aedesClient)).toEqual({ clientId: 'dev-a', will: undefined });

    client.destroy();
    await client.closed;
    expect(connected()).toEqual([]);
    // Kept (weakly) for aedes' will check after the close, but no longer live.
    expect(broker.ctx.sessions.get(aedesClient)?.rights.role).toBe('device');
  });

  it('are not made for a refused client', async () => {
    const client = broker.connect();
    expect(await client.connect({ clientId: 'dev-a', username: 'dev-a', password: Buffer.from('wrong') })).toMatchObject({ returnCode: 4 });
    await client.closed;
    expect(connected()).toEqual([]);
  });

  it('whose credentials change or go are closed; the others stay', async () => {
    const { devA, devB, backend } = USERS;
    const clients = await Promise.all(
      [devA, devB, backend].map(async (user) => {
        const client = broker.connect();
        const connack = await client.connect({ clientId: user.username, username: user.username, password: Buffer.from(user.password) });
        expect(connack).toMatchObject({ returnCode: 0 });
        return client;
      }),
    );
    // dev-a's password changes, dev-b goes, the backend's entry stays as it was.
    const users = await readCredentialsFile(broker.passwordFile);
    const newHash = await hashPassword('new-password', { ln: 10, r: 8, p: 1 });
    users.set(devA.username, { username: devA.username, role: 'device', hash: newHash });
    users.delete(devB.username);
    await writeCredentialsFile(broker.passwordFile, users.values());
    await broker.reloadCredentials();
    const [a, b, kept] = clients as [DuplexClient, DuplexClient, DuplexClient];
    await Promise.all([a.closed, b.closed]);
    const closedFor = broker.log.find('credentials changed or removed: client disconnected').map((line) => line.username);
    expect(closedFor.sort()).toEqual(['dev-a', 'dev-b']);
    kept.send({ cmd: 'pingreq' });
    expect(await kept.next()).toMatchObject({ cmd: 'pingresp' });
    expect(connected().map(({ client }) => client.id)).toEqual(['backend']);
  });
});
