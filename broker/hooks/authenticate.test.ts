// authenticate through aedes on a duplex client: who may connect (password, client certificate,
// anonymous), a device's client id, the will, and the CONNACK codes and counts of each refusal.
import { describe, expect, it } from 'vitest';
import { type HookedAedes, hookedAedesPerTest } from '../../test/helpers/hooked-aedes.js';
import type { DuplexOptions } from '../../test/helpers/mqtt-duplex.js';
import { encodeConnect } from '../../test/helpers/mqtt-wire.js';
import { USERS, metricValue } from '../../test/helpers/test-broker.js';

const { devA, viewer, admin } = USERS;

const start = hookedAedesPerTest();

const connects = (hooked: HookedAedes, result: string) => metricValue(hooked, 'furnace_broker_connects_total', { result });

/** Connects and returns the CONNACK's return code; a refused client must also be disconnected [MQTT-3.2.2-5]. */
async function returnCode(
  hooked: HookedAedes,
  fields: { clientId: string; username?: string; password?: string },
  options?: DuplexOptions,
) {
  const client = hooked.connect(options);
  const connack = await client.connect({ ...fields, password: fields.password === undefined ? undefined : Buffer.from(fields.password) });
  expect(connack.cmd).toBe('connack');
  const code = (connack as { returnCode: number }).returnCode;
  if (code !== 0) await client.closed;
  return code;
}

describe('passwords', () => {
  it('accepts the right password, and sends 4 for a wrong one, an unknown user or a missing password', async () => {
    const hooked = await start();
    expect(await returnCode(hooked, { clientId: 'v1', username: viewer.username, password: viewer.password })).toBe(0);
    expect(await returnCode(hooked, { clientId: 'v2', username: viewer.username, password: `${viewer.password}x` })).toBe(4);
    expect(await returnCode(hooked, { clientId: 'v3', username: 'nobody', password: viewer.password })).toBe(4);
    expect(await returnCode(hooked, { clientId: 'v4', username: viewer.username })).toBe(4);
    expect(await connects(hooked, 'accepted')).toBe(1);
    expect(await connects(hooked, 'bad_credentials')).toBe(3);
    expect(hooked.log.find('connection refused', { reason: 'unknown user', returnCode: 4 })).toHaveLength(1);
    expect([...hooked.ctx.sessions.connected()].map(([client]) => client.id)).toEqual(['v1']);
  });

  it('sends 4 for a password without a user name [MQTT-3.1.2-22], even with anonymous clients allowed', async () => {
    const hooked = await start({ settings: { 'auth.allowAnonymous': 'true' } });
    const client = hooked.connect();
    client.sendRaw(encodeConnect({ clientId: 'sneaky', password: admin.password })); // mqtt-packet will not write it
    expect(await client.next()).toMatchObject({ cmd: 'connack', returnCode: 4 });
    await client.closed;
  });

  it('logs a refusal at warn once per address and cause, then at debug', async () => {
    const hooked = await start();
    for (const clientId of ['g1', 'g2', 'g3']) {
      expect(await returnCode(hooked, { clientId, username: viewer.username, password: 'guess' }, { remoteAddress: '203.0.113.5' })).toBe(
        4,
      );
    }
    const refusals = hooked.log.find('connection refused', { remoteAddress: '203.0.113.5', reason: 'wrong password' });
    expect(refusals.map((line) => line.level)).toEqual([40, 20, 20]);
  });
});

describe('anonymous clients', () => {
  it('are refused with 5 by default', async () => {
    const hooked = await start();
    expect(await returnCode(hooked, { clientId: 'anon' })).toBe(5);
    expect(await connects(hooked, 'not_authorized')).toBe(1);
  });

  it('connect with auth.anonymousRole when allowed', async () => {
    const hooked = await start({ settings: { 'auth.allowAnonymous': 'true', 'auth.anonymousRole': 'viewer' } });
    expect(await returnCode(hooked, { clientId: 'anon' })).toBe(0);
    const [[, session] = []] = [...hooked.ctx.sessions.connected()];
    expect(session?.credential).toBeUndefined();
    expect(session?.rights.role).toBe('viewer');
    // Allowing anonymous clients does not weaken password checks for named ones.
    expect(await returnCode(hooked, { clientId: 'named', username: viewer.username, password: 'wrong' })).toBe(4);
  });
});

describe('devices', () => {
  it('must use the client id auth.deviceClientId names, or get 2', async () => {
    const hooked = await start({ settings: { 'auth.deviceClientId': 'furnace-{username}' } });
    const login = { username: devA.username, password: devA.password };
    expect(await returnCode(hooked, { clientId: devA.username, ...login })).toBe(2);
    expect(await returnCode(hooked, { clientId: 'furnace-dev-b', ...login })).toBe(2);
    expect(await returnCode(hooked, { clientId: 'furnace-dev-a', ...login })).toBe(0);
    expect(await connects(hooked, 'identifier_rejected')).toBe(2);
    // Other roles choose their client id freely.
    expect(await returnCode(hooked, { clientId: 'anything', username: viewer.username, password: viewer.password })).toBe(0);
  });

  it('get 5 for a will on a topic they may not publish to, counted as a denied will; their own status is fine', async () => {
    const hooked = await start();
    const connectWithWill = async (clientId: string, topic: string) => {
      const client = hooked.connect();
      const will = { topic, payload: Buffer.from('offline'), qos: 1 as const, retain: true };
      const connack = await client.connect({ clientId, username: devA.username, password: Buffer.from(devA.password), will });
      return (connack as { returnCode?: number }).returnCode;
    };
    expect(await connectWithWill('dev-a', 'telemetry/v1/dev-b/status')).toBe(5);
    expect(await metricValue(hooked, 'furnace_broker_denied_total', { kind: 'will', role: 'device' })).toBe(1);
    expect(await connectWithWill('dev-a', 'telemetry/v1/dev-a/status')).toBe(0);
  });
});

describe('client certificates', () => {
  it('name the user without a password; a different user name gets 4, a name with no account 5', async () => {
    const hooked = await start();
    expect(await returnCode(hooked, { clientId: 'cert-ok' }, { listener: 'tls', certificateName: viewer.username })).toBe(0);
    expect(await returnCode(hooked, { clientId: 'cert-named' }, { listener: 'tls', certificateName: 'stranger' })).toBe(5);
    const mismatch = { clientId: 'cert-other', username: admin.username, password: admin.password };
    expect(await returnCode(hooked, mismatch, { listener: 'tls', certificateName: viewer.username })).toBe(4);
    const roles = [...hooked.ctx.sessions.connected()].map(([client, session]) => [client.id, session.rights.role]);
    expect(roles).toEqual([['cert-ok', 'viewer']]);
  });
});
