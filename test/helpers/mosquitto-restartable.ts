// A Mosquitto that a test can stop and start again on the same port, keeping its persistent
// sessions (a broker outage), and that can be given its own listener settings (TLS, passwords).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { type RunningProcess, startProcess } from './process.js';
import { tcpAccepts, waitFor } from './wait-for.js';

export interface RestartableMosquitto {
  port: number;
  /** mqtt://127.0.0.1:PORT (mqtts:// with a TLS listener). */
  url: string;
  dir: string;
  /** Stops the broker (SIGTERM: it saves its sessions and queued messages); port and folder stay. */
  stop: () => Promise<void>;
  /** Starts it again on the same port, with what it saved. */
  start: () => Promise<void>;
  /** Stops it and removes its folder. Idempotent. */
  remove: () => Promise<void>;
}

export interface RestartableMosquittoOptions {
  /**
   * Listener and security lines instead of the default plain anonymous listener, e.g. a TLS
   * listener with `cafile`, `certfile`, `require_certificate`, `password_file`. Must include
   * the `listener PORT 127.0.0.1` line.
   */
  listener?: (port: number, dir: string) => string[];
  tls?: boolean;
}

export async function startRestartableMosquitto(options: RestartableMosquittoOptions = {}): Promise<RestartableMosquitto> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'test-mosquitto-restartable-'));
  const conf = join(dir, 'mosquitto.conf');
  const listener = options.listener?.(port, dir) ?? [`listener ${port} 127.0.0.1`, 'allow_anonymous true'];
  const config = [
    // Run as root (in a container), Mosquitto drops to user mosquitto before it reads the
    // password, certificate and persistence files, which are in root's private temp folders.
    // This keeps it as it is; started by another user, the line has no effect.
    'user root',
    ...listener,
    // Sessions and their queued QoS 1 messages survive a restart, as a production broker's do.
    'persistence true',
    `persistence_location ${dir}/`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  await writeFile(conf, `${config.join('\n')}\n`);
  let proc: RunningProcess | undefined;
  const start = async () => {
    const started = (proc = await startProcess('mosquitto', ['-c', conf], { cwd: dir }));
    await waitFor(
      async () => {
        started.assertRunning();
        return await tcpAccepts(port);
      },
      { timeoutMs: 15_000, what: `mosquitto to accept TCP on 127.0.0.1:${port}` },
    );
  };
  const stop = async () => {
    await proc?.stop();
    proc = undefined;
  };
  try {
    await start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    dir,
    stop,
    start,
    remove: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
