// The heap of a child Node.js process, measured after a full garbage collection, through the
// inspector protocol: the one reading of "memory in use" that garbage waiting for the collector
// does not blur. Start the child with NODE_OPTIONS=--inspect=127.0.0.1:0.
import WebSocket from 'ws';
import type { RunningProcess } from './process.js';

/** The inspector's WebSocket URL, from the "Debugger listening on ws://..." line the child prints. */
export async function inspectorUrl(proc: RunningProcess): Promise<string> {
  const line = await proc.waitForLine(/Debugger listening on ws:\/\//, 20_000);
  const url = /ws:\/\/\S+/.exec(line)?.[0];
  if (!url) throw proc.error('no inspector URL');
  return url;
}

/** Collects all garbage in the child, then returns its used JavaScript heap, in bytes. */
export async function heapAfterGc(url: string): Promise<number> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const call = (method: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      // The inspector sends text frames: one JSON message each.
      const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
        if (isBinary || !(data instanceof Buffer)) return;
        const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
        if (message.id !== id) return;
        socket.off('message', onMessage);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result ?? {});
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id, method }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return Number(usage.usedSize);
  } finally {
    socket.close();
  }
}
