import { createServer } from 'node:net';
import { isAddressInUse, listenOn } from '../contract/listen.js';

export class PortUnavailableError extends Error {}

/** Resolves if `port` can be bound on `host` now; rejects with an error naming the port and what wanted it. */
export async function assertPortFree(port: number, host: string, what: string): Promise<void> {
  const server = createServer();
  try {
    await listenOn(server, port, host);
  } catch (error) {
    const hint = isAddressInUse(error)
      ? 'is already in use'
      : `cannot be bound (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
    throw new PortUnavailableError(`${what} port ${port} ${hint}; choose another with the flag or environment variable shown by --help`);
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
