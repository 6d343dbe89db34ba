// Two broker processes on one real Redis act as one broker: messages, retained messages,
// persistent sessions and client-id takeover cross from one node to the other.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startCli } from './helpers/cli.js';
import { freePorts } from './helpers/free-port.js';
import type { RunningProcess } from './helpers/process.js';
import { type Redis, startRedis } from './helpers/redis.js';
import { describeWithProgram } from './helpers/require-program.js';
import { trackedClients } from './helpers/mqtt-observe.js';
import { USERS, connectAs, writeUsers } from './helpers/test-broker.js';

describeWithProgram('redis-server', 'redis-server', 'two broker processes on one Redis', () => {
  let redis: Redis;
  let dir: string;
  const nodes: RunningProcess[] = [];
  const urls: string[] = [];
  const { track, endAll } = trackedClients();

  beforeAll(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'test-broker-cluster-'));
    const passwordFile = join(dir, 'users');
    await writeUsers(passwordFile, Object.values(USERS));
    const ports = await freePorts(2);
    for (const [index, port] of ports.entries()) {
      const args = [
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--password-file',
        passwordFile,
        '--persistence',
        'redis',
        '--redis-url',
        redis.url,
      ];
      nodes.push(await startCli('broker', args, { FURNACE_BROKER_BROKER_ID: `node-${index + 1}` }));
      urls.push(`mqtt://127.0.0.1:${port}`);
    }
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await endAll();
  });

  const [one, two] = [() => urls[0] ?? '', () => urls[1] ?? ''];

  it('delivers to a subscriber on one node what a client publishes on the other', async () => {
    const backend = await track(connectAs(one(), USERS.backend));
    const message = new Promise<string>((resolve) =>
      backend.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)),
    );
    await backend.subscribeAsync('telemetry/v1/+/readings', { qos: 1 });
    const device = await track(connectAs(two(), USERS.devA));
    await device.publishAsync('telemetry/v1/dev-a/readings', 'across nodes', { qos: 1 });
    expect(await message).toBe('telemetry/v1/dev-a/readings across nodes');
  });

  it('shows on one node a retained message set on the other', async () => {
    const device = await track(connectAs(one(), USERS.devB));
    // QoS 2: aedes stores a retained message before PUBREC, but sends a QoS 1 PUBACK before storing it.
    await device.publishAsync('telemetry/v1/dev-b/status', 'online (retained)', { qos: 2, retain: true });
    const viewer = await track(connectAs(two(), USERS.viewer));
    const retained = new Promise<[string, boolean]>((resolve) =>
      viewer.once('message', (_t, payload, packet) => resolve([payload.toString(), packet.retain])),
    );
    await viewer.subscribeAsync('telemetry/v1/dev-b/status', { qos: 1 });
    expect(await retained).toEqual(['online (retained)', true]);
  });

  it('keeps a persistent session made on one node for its client coming back on the other', async () => {
    // Nodes learn of each other's subscriptions through a $SYS/sub/add broadcast over Redis (aedes-persistence):
    // a publish on node two before that arrives would not be queued for the session. Wait for it, as node two sees it.
    const watcher = await track(connectAs(two(), USERS.admin));
    const known = new Promise<void>((resolve) =>
      watcher.on('message', (_t, payload) => payload.toString().includes('backend-roaming') && resolve()),
    );
    await watcher.subscribeAsync('$SYS/sub/add', { qos: 0 });
    const away = await connectAs(one(), USERS.backend, { clientId: 'backend-roaming', clean: false });
    await away.subscribeAsync('telemetry/v1/+/readings', { qos: 1 });
    await known;
    await away.endAsync();
    const device = await track(connectAs(two(), USERS.devA));
    await device.publishAsync('telemetry/v1/dev-a/readings', 'while away', { qos: 1 });
    const back = await track(connectAs(two(), USERS.backend, { clientId: 'backend-roaming', clean: false }));
    const queued = await new Promise<string>((resolve) => back.once('message', (_t, payload) => resolve(payload.toString())));
    expect(queued).toBe('while away');
  });

  it('closes the older connection when the same client id connects on the other node [MQTT-3.1.4-2]', async () => {
    const first = await track(connectAs(one(), USERS.devA));
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    await track(connectAs(two(), USERS.devA));
    await closed;
  });
});
