import { createServer } from 'node:net';

export class PortUnavailableError extends Error {}

/** Resolves if `port` can be bound on `host` now; rejects with an error naming the port and what wanted it. */
export function assertPortFree(port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${error.code ?? error.message})`;
      reject(new PortUnavailableError(`${what} port ${port} ${hint}; choose another with the flag or environment variable shown by --help`));
    });
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
