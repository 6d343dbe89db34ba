import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { describeListenFailure, isAddressInUse, listenOn } from './listen.js';

describe('listenOn and describeListenFailure', () => {
  const servers: Array<ReturnType<typeof createServer>> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('listens, leaving no error listener behind', async () => {
    const server = createServer();
    servers.push(server);
    await listenOn(server, 0, '127.0.0.1');
    expect(server.listening).toBe(true);
    expect(server.listenerCount('error')).toBe(0);
  });

  it('rejects with EADDRINUSE for a port in use, which reads as "already in use"', async () => {
    const first = createServer();
    servers.push(first);
    await listenOn(first, 0, '127.0.0.1');
    const { port } = first.address() as { port: number };
    const error = await listenOn(createServer(), port, '127.0.0.1').catch((thrown: unknown) => thrown);
    expect(isAddressInUse(error)).toBe(true);
    expect(describeListenFailure(error, { host: '127.0.0.1', port, name: 'health port', inUseHint: ' (setting health.port)' })).toEqual({
      inUse: true,
      message: `health port ${port} on 127.0.0.1 is already in use (setting health.port)`,
    });
  });

  it('gives the system message for any other failure, with the setting when there is one', () => {
    const error = Object.assign(new Error('listen EACCES: permission denied'), { code: 'EACCES' });
    expect(isAddressInUse(error)).toBe(false);
    expect(describeListenFailure(error, { host: '0.0.0.0', port: 80, name: 'tcp.port', setting: 'tcp.port' }).message).toBe(
      'cannot listen on 0.0.0.0:80 (tcp.port): listen EACCES: permission denied',
    );
    expect(describeListenFailure(error, { host: '0.0.0.0', port: 80, name: 'HTTP port' })).toEqual({
      inUse: false,
      message: 'cannot listen on 0.0.0.0:80: listen EACCES: permission denied',
    });
  });
});
