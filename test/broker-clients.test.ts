// Interoperability: Debian's mosquitto_pub / mosquitto_sub talk to our broker over TCP and TLS
// with credentials (and with a client certificate instead of a password), and are refused with
// the right CONNACK codes; MQTT.js talks to it over WebSocket.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startProcess, stopAllProcesses } from './helpers/process.js';
import { describeWithProgram, requireProgram } from './helpers/require-program.js';
import { type TestBroker, type TestUser, USERS, connectAs, startTestBroker } from './helpers/test-broker.js';
import { type TlsCerts, makeTlsCerts } from './helpers/tls-certs.js';

const run = promisify(execFile);
const openssl = requireProgram('openssl', 'openssl');

describeWithProgram('mosquitto_pub', 'mosquitto-clients', 'mosquitto clients and MQTT.js over TCP, TLS and WebSocket', (mosquittoPub) => {
  const mosquittoSub = mosquittoPub.replace(/mosquitto_pub$/, 'mosquitto_sub');
  let certs: TlsCerts;
  let server: TestBroker;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    if (openssl.skip) return;
    // A certificate for dev-a (a user), and one for a name with no account.
    certs = await makeTlsCerts(['dev-a', 'stranger']);
    server = await startTestBroker({
      settings: {
        'tls.enabled': 'true',
        'tls.host': '127.0.0.1',
        'tls.port': '0',
        'tls.certFile': certs.server.cert,
        'tls.keyFile': certs.server.key,
        'tls.caFile': certs.ca,
        'ws.enabled': 'true',
        'ws.host': '127.0.0.1',
        'ws.port': '0',
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await certs?.remove();
    await stopAllProcesses();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  });

  type Transport = { kind: 'tcp' } | { kind: 'tls'; certificate?: { cert: string; key: string } };
  function connectionArgs(transport: Transport, user: Partial<TestUser> | undefined, clientId: string): string[] {
    const args = ['-h', transport.kind === 'tls' ? 'localhost' : '127.0.0.1', '-V', 'mqttv311', '-i', clientId];
    if (transport.kind === 'tls') {
      args.push('-p', String(server.broker.ports.tls), '--cafile', certs.ca);
      if (transport.certificate) args.push('--cert', transport.certificate.cert, '--key', transport.certificate.key);
    } else {
      args.push('-p', String(server.port));
    }
    if (user?.username !== undefined) args.push('-u', user.username);
    if (user?.password !== undefined) args.push('-P', user.password);
    return args;
  }

  /** mosquitto_pub once; resolves with its exit code and error output. */
  async function publish(transport: Transport, user: Partial<TestUser> | undefined, clientId: string, topic: string, message: string) {
    const args = [...connectionArgs(transport, user, clientId), '-q', '1', '-t', topic, '-m', message];
    try {
      await run(mosquittoPub, args, { timeout: 10_000 });
      return { code: 0, stderr: '' };
    } catch (error) {
      const failed = error as { code?: number; stderr?: string };
      return { code: failed.code ?? -1, stderr: failed.stderr ?? '' };
    }
  }

  /** mosquitto_sub for one message; resolves once it has subscribed, with a promise of what it prints. */
  async function subscribeOnce(
    transport: Transport,
    user: TestUser,
    clientId: string,
    filter: string,
  ): Promise<{ output: Promise<string> }> {
    // Its output is block-buffered into a pipe: learn of the subscription from the broker instead.
    const subscribed = new Promise<void>((resolve) => {
      const onSubscribe = (_subscriptions: unknown, client: { id: string }) => {
        if (client.id !== clientId) return;
        server.broker.aedes.off('subscribe', onSubscribe);
        resolve();
      };
      server.broker.aedes.on('subscribe', onSubscribe);
    });
    const sub = await startProcess(mosquittoSub, [
      ...connectionArgs(transport, user, clientId),
      '-q',
      '1',
      '-t',
      filter,
      '-v',
      '-C',
      '1',
      '-W',
      '10',
    ]);
    await subscribed;
    // Wrapped: an async function's returned promise would otherwise be awaited along with it.
    const output = sub.waitForExit(10_000).then((exit) => {
      if (exit.code !== 0) throw sub.error(`exited with ${exit.code}`);
      return sub.output();
    });
    return { output };
  }

  it.skipIf(openssl.skip)('exchange a message over TCP with user names and passwords', async () => {
    const received = await subscribeOnce({ kind: 'tcp' }, USERS.backend, 'backend-tcp', 'telemetry/v1/+/readings');
    expect(await publish({ kind: 'tcp' }, USERS.devA, 'dev-a', 'telemetry/v1/dev-a/readings', 'over tcp')).toEqual({ code: 0, stderr: '' });
    expect(await received.output).toBe('telemetry/v1/dev-a/readings over tcp');
  });

  it.skipIf(openssl.skip)('exchange a message over TLS, verifying the broker certificate', async () => {
    const received = await subscribeOnce({ kind: 'tls' }, USERS.backend, 'backend-tls', 'telemetry/v1/+/readings');
    expect(await publish({ kind: 'tls' }, USERS.devA, 'dev-a', 'telemetry/v1/dev-a/readings', 'over tls')).toEqual({ code: 0, stderr: '' });
    expect(await received.output).toBe('telemetry/v1/dev-a/readings over tls');
  });

  it.skipIf(openssl.skip)('log a device in by its client certificate, without a password', async () => {
    const received = await subscribeOnce({ kind: 'tcp' }, USERS.backend, 'backend-cert', 'telemetry/v1/+/readings');
    const certificate = certs.clients['dev-a'];
    expect(await publish({ kind: 'tls', certificate }, undefined, 'dev-a', 'telemetry/v1/dev-a/readings', 'by certificate')).toEqual({
      code: 0,
      stderr: '',
    });
    expect(await received.output).toBe('telemetry/v1/dev-a/readings by certificate');
    // The certificate names the user: its rights are dev-a's, and a name without an account gets nothing.
    const stranger = await publish({ kind: 'tls', certificate: certs.clients.stranger }, undefined, 'stranger', 'x', 'y');
    expect(stranger.code).toBe(5);
  });

  it.skipIf(openssl.skip)('are refused with CONNACK 4 for a wrong password or unknown user, and 5 without credentials', async () => {
    const wrong = await publish({ kind: 'tcp' }, { ...USERS.devA, password: 'nope' }, 'dev-a', 'telemetry/v1/dev-a/readings', 'x');
    expect(wrong).toEqual({ code: 4, stderr: expect.stringContaining('Connection Refused: bad user name or password') as string });
    const unknown = await publish({ kind: 'tls' }, { username: 'mallory', password: 'x' }, 'mallory', 'x', 'x');
    expect(unknown).toEqual({ code: 4, stderr: expect.stringContaining('bad user name or password') as string });
    const anonymous = await publish({ kind: 'tcp' }, undefined, 'anon', 'x', 'x');
    expect(anonymous).toEqual({ code: 5, stderr: expect.stringContaining('Connection Refused: not authorised') as string });
  });

  it.skipIf(openssl.skip)('serve MQTT.js over WebSocket, and answer plain HTTP with 426', async () => {
    const url = `ws://127.0.0.1:${server.broker.ports.ws}/mqtt`;
    const backend = await connectAs(server.url, USERS.backend);
    clients.push(backend);
    const message = new Promise<string>((resolve) =>
      backend.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)),
    );
    await backend.subscribeAsync('telemetry/v1/+/readings', { qos: 1 });
    const device = await connectAs(url, USERS.devA);
    clients.push(device);
    await device.publishAsync('telemetry/v1/dev-a/readings', 'over websocket', { qos: 1 });
    expect(await message).toBe('telemetry/v1/dev-a/readings over websocket');
    await expect(connectAs(url, { ...USERS.devA, password: 'nope' })).rejects.toMatchObject({ code: 4 });
    const plain = await fetch(`http://127.0.0.1:${server.broker.ports.ws}/`);
    expect(plain.status).toBe(426);
  });
});
