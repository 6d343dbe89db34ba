// Listening on a port, and saying why it failed in the words every part uses: "already in use"
// for EADDRINUSE (another process, or another copy of this one, holds the port: the fix is to
// choose another), the system's own message for the rest (EACCES under 1024, a bad address).
// It lives in contract/ because the agent's health server, the broker's listeners, the backend's
// HTTP API and `npm start`'s port check all need it and contract/ is the one folder they all may
// import (DESIGN.md), as settings.ts does; it is mechanism, not wire format, and imports nothing.

/** The part of a server that listening needs: net.Server and http.Server both have it. */
export interface ListenableServer {
  once(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  listen(port: number, host: string, callback: () => void): unknown;
}

/** Listens on host:port; rejects with the error of the listen, and leaves no listener behind. */
export function listenOn(server: ListenableServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Whether a listen failed because the port is taken. */
export function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

export interface ListenTarget {
  host: string;
  port: number;
  /** What the port is called where it is in use: `HTTP port`, `health port`, `tcp.port`. */
  name: string;
  /** Said after "already in use", e.g. ` (setting health.port)`. */
  inUseHint?: string;
  /** The setting named when listening failed otherwise, e.g. `tcp.port`. */
  setting?: string;
}

/** Why a listen failed: whether the port is taken (parts give that its own code), and the message. */
export function describeListenFailure(error: unknown, target: ListenTarget): { inUse: boolean; message: string } {
  const { host, port, name, inUseHint = '', setting } = target;
  if (isAddressInUse(error)) return { inUse: true, message: `${name} ${port} on ${host} is already in use${inUseHint}` };
  const where = setting === undefined ? '' : ` (${setting})`;
  return { inUse: false, message: `cannot listen on ${host}:${port}${where}: ${(error as Error).message}` };
}
