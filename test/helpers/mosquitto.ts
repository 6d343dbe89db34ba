// A throw-away MQTT broker (Eclipse Mosquitto) on a free port, for tests that need a real
// broker rather than the in-process one.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { startProcess } from './process.js';
import { startTempDaemon } from './temp-daemon.js';
import { tcpAccepts } from './wait-for.js';

export interface Mosquitto {
  port: number;
  /** mqtt://127.0.0.1:PORT */
  url: string;
  pid: number;
  dir: string;
  /** Stops the broker and removes its temp folder. */
  stop: () => Promise<void>;
}

export async function startMosquitto(): Promise<Mosquitto> {
  const port = await freePort();
  const daemon = await startTempDaemon({
    prefix: 'mosquitto-',
    launch: async (dir) => {
      const conf = join(dir, 'mosquitto.conf');
      const config = [
        // Loopback only: tests must not expose an open broker to the network.
        `listener ${port} 127.0.0.1`,
        // Mosquitto 2 refuses anonymous clients by default; tests connect without credentials.
        'allow_anonymous true',
        // Nothing may survive the test or be written outside the temp folder.
        'persistence false',
        // Logs go to the pipe we capture, so start-up errors show in test failures.
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
      ];
      await writeFile(conf, `${config.join('\n')}\n`);
      return startProcess('mosquitto', ['-c', conf], { cwd: dir });
    },
    ready: () => tcpAccepts(port),
    what: `mosquitto to accept TCP on 127.0.0.1:${port}`,
  });
  return { port, url: `mqtt://127.0.0.1:${port}`, pid: daemon.pid, dir: daemon.dir, stop: daemon.stop };
}
