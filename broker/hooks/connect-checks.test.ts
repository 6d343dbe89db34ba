// preConnect through aedes on a duplex client: the client id rules MQTT 3.1.1 sets and aedes does
// not enforce, the client id length limit, and the keepalive bounds.
import { afterEach, describe, expect, it } from 'vitest';
import { type HookedAedes, startHookedAedes } from '../../test/helpers/hooked-aedes.js';
import { encodeConnect } from '../../test/helpers/mqtt-wire.js';
import { USERS, metricValue } from '../../test/helpers/test-broker.js';

const { admin } = USERS;
const adminLogin = { username: admin.username, password: Buffer.from(admin.password) };

let broker: HookedAedes | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

async function start(settings: Record<string, string> = {}): Promise<HookedAedes> {
  broker = await startHookedAedes({ settings });
  return broker;
}

const identifierRejections = (hooked: HookedAedes) =>
  metricValue(hooked, 'furnace_broker_connects_total', { result: 'identifier_rejected' });

describe('client id checks before authentication', () => {
  it('refuses a zero-length client id without clean session with CONNACK 2, then closes [MQTT-3.1.3-8]', async () => {
    const hooked = await start();
    const client = hooked.connect();
    // mqtt-packet refuses to write this CONNECT: built by hand.
    client.sendRaw(encodeConnect({ clientId: '', clean: false, username: admin.username, password: admin.password }));
    expect(await client.next()).toMatchObject({ cmd: 'connack', returnCode: 2, sessionPresent: false });
    await client.closed;
    expect(await identifierRejections(hooked)).toBe(1);
    expect([...hooked.ctx.sessions.connected()]).toEqual([]);
    expect(
      hooked.log.find('connection refused: identifier rejected', { reason: 'zero-length client id without clean session [MQTT-3.1.3-8]' }),
    ).toHaveLength(1);
  });

  it('refuses a zero-length client id in MQTT 3.1 even with clean session', async () => {
    const hooked = await start();
    const client = hooked.connect();
    client.sendRaw(encodeConnect({ clientId: '', clean: true, protocolLevel: 3, username: admin.username, password: admin.password }));
    expect(await client.next()).toMatchObject({ cmd: 'connack', returnCode: 2 });
    await client.closed;
    expect(await identifierRejections(hooked)).toBe(1);
  });

  it('lets aedes assign an id to a zero-length one with clean session in MQTT 3.1.1 [MQTT-3.1.3-6]', async () => {
    const hooked = await start();
    const client = hooked.connect();
    expect(await client.connect({ clientId: '', ...adminLogin })).toMatchObject({ cmd: 'connack', returnCode: 0 });
    const [[aedesClient] = []] = [...hooked.ctx.sessions.connected()];
    expect(aedesClient?.id).toMatch(/^aedes_/);
    expect(await identifierRejections(hooked)).toBe(0);
  });

  it('refuses a client id over limits.maxClientIdLength, counted as a limit hit; one at the limit passes', async () => {
    const hooked = await start({ 'limits.maxClientIdLength': '30' });
    const atLimit = hooked.connect();
    expect(await atLimit.connect({ clientId: 'a'.repeat(30), ...adminLogin })).toMatchObject({ returnCode: 0 });

    const over = hooked.connect({ remoteAddress: '203.0.113.9' });
    expect(await over.connect({ clientId: 'b'.repeat(31), ...adminLogin })).toMatchObject({ cmd: 'connack', returnCode: 2 });
    await over.closed;
    expect(await metricValue(hooked, 'furnace_broker_limit_hits_total', { limit: 'client_id_length' })).toBe(1);
    expect(await identifierRejections(hooked)).toBe(1);
    expect(hooked.log.find('client id too long', { remoteAddress: '203.0.113.9', length: 31, max: 30 })).toHaveLength(1);
    expect(atLimit.isClosed()).toBe(false);
  });

  it('refuses before authentication: a bad password with a bad client id still gets 2, not 4', async () => {
    const hooked = await start();
    const client = hooked.connect();
    client.sendRaw(encodeConnect({ clientId: '', clean: false, username: admin.username, password: 'wrong' }));
    expect(await client.next()).toMatchObject({ cmd: 'connack', returnCode: 2 });
    expect(await metricValue(hooked, 'furnace_broker_connects_total', { result: 'bad_credentials' })).toBe(0);
  });
});

describe('keepalive bounds', () => {
  // aedes arms its timer at 1.5 x the keepalive it is given [MQTT-3.1.2-24]; internal, but it is the effect of the clamp.
  const keepaliveTimerMs = (hooked: HookedAedes, clientId: string) =>
    (hooked.aedes as unknown as { clients: Record<string, { _keepaliveInterval?: number }> }).clients[clientId]?._keepaliveInterval;

  it('lowers none (0) and too long to the maximum, raises too short to the minimum, counting each', async () => {
    const hooked = await start({ 'limits.keepaliveMinSeconds': '10', 'limits.keepaliveMaxSeconds': '120' });
    const cases: Array<[clientId: string, asked: number, used: number]> = [
      ['none', 0, 120],
      ['long', 3600, 120],
      ['short', 2, 10],
    ];
    for (const [clientId, asked, used] of cases) {
      const client = hooked.connect();
      expect(await client.connect({ clientId, keepalive: asked, ...adminLogin })).toMatchObject({ returnCode: 0 });
      expect(keepaliveTimerMs(hooked, clientId)).toBe(used * 1500 + 1);
      expect(hooked.log.find('keepalive outside the bounds: adjusted', { clientId, asked, used })).toHaveLength(1);
    }
    expect(await metricValue(hooked, 'furnace_broker_limit_hits_total', { limit: 'keepalive_adjusted' })).toBe(3);
  });

  it('leaves a keepalive within the bounds alone', async () => {
    const hooked = await start({ 'limits.keepaliveMinSeconds': '10', 'limits.keepaliveMaxSeconds': '120' });
    const client = hooked.connect();
    expect(await client.connect({ clientId: 'fine', keepalive: 45, ...adminLogin })).toMatchObject({ returnCode: 0 });
    expect(keepaliveTimerMs(hooked, 'fine')).toBe(45 * 1500 + 1);
    expect(await metricValue(hooked, 'furnace_broker_limit_hits_total', { limit: 'keepalive_adjusted' })).toBe(0);
  });
});
