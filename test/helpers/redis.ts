// A throw-away Redis on a free port, no persistence, data folder in a temp dir.
import { connect } from 'node:net';
import { freePort } from './free-port.js';
import { startProcess } from './process.js';
import { startTempDaemon } from './temp-daemon.js';

export interface Redis {
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  pid: number;
  dir: string;
  /** Stops the server and removes its temp folder. */
  stop: () => Promise<void>;
}

/** Encodes a command as a RESP array of bulk strings. */
function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** True once `reply` holds one complete simple, error, integer or bulk-string reply. */
function complete(reply: Buffer): boolean {
  const headerEnd = reply.indexOf('\r\n');
  if (headerEnd < 0) return false;
  if (reply[0] !== 0x24 /* '$' */) return true;
  const length = Number(reply.subarray(1, headerEnd).toString());
  return length < 0 || reply.length >= headerEnd + 2 + length + 2;
}

/**
 * Sends one command over a fresh raw TCP connection and resolves with the raw RESP reply,
 * e.g. '+PONG\r\n' or '$3\r\nbar\r\n'. No client library, so it also works as a readiness probe.
 */
export function redisCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`redis ${args[0]} timed out`)));
    socket.once('error', reject);
    // Settled already if the reply was complete; otherwise the server hung up on us.
    socket.once('close', () => reject(new Error(`redis closed the connection before replying to ${args[0]}`)));
    socket.once('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (!complete(reply)) return;
      socket.destroy();
      resolve(reply.toString());
    });
  });
}

export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const daemon = await startTempDaemon({
    prefix: 'redis-',
    launch: (dir) =>
      // --save '' and --appendonly no: nothing written to disk; --dir: anything that is, lands in the temp dir.
      startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        cwd: dir,
      }),
    // A listening socket is not enough: while loading, Redis answers -LOADING.
    ready: () =>
      redisCommand(port, ['PING'], 1000).then(
        (reply) => reply === '+PONG\r\n',
        () => false,
      ),
    what: `redis-server to answer PING on 127.0.0.1:${port}`,
  });
  return { port, url: `redis://127.0.0.1:${port}`, pid: daemon.pid, dir: daemon.dir, stop: daemon.stop };
}
