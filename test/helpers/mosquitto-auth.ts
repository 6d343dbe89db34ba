// Mosquitto on a free port with a password file and an ACL, as a production Mosquitto runs: the
// reference our broker is measured against with authentication and authorisation on in both.
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findProgram } from './find-program.js';
import { freePort } from './free-port.js';
import { startProcess } from './process.js';
import { startTempDaemon } from './temp-daemon.js';
import { tcpAccepts } from './wait-for.js';

const run = promisify(execFile);

export interface MosquittoUser {
  username: string;
  password: string;
  /** Mosquitto ACL lines for this user, e.g. 'topic write telemetry/v1/dev-1/#' (unless an aclFile is given). */
  acl?: string[];
}

export interface MosquittoAuthOptions {
  /** An ACL file to use as it is (e.g. broker/mosquitto.acl), instead of the users' acl lines. */
  aclFile?: string;
}

export interface SecureMosquitto {
  port: number;
  url: string;
  pid: number;
  dir: string;
  stop: () => Promise<void>;
}

export async function startMosquittoWithAuth(users: MosquittoUser[], options: MosquittoAuthOptions = {}): Promise<SecureMosquitto> {
  const port = await freePort();
  const daemon = await startTempDaemon({
    prefix: 'mosquitto-auth-',
    launch: async (dir) => {
      const passwords = join(dir, 'passwords');
      const acl = join(dir, 'acl');
      const mosquittoPasswd = findProgram('mosquitto_passwd') ?? 'mosquitto_passwd';
      for (const [index, user] of users.entries()) {
        await run(mosquittoPasswd, [...(index === 0 ? ['-c'] : []), '-b', passwords, user.username, user.password]);
      }
      const text = options.aclFile
        ? await readFile(options.aclFile, 'utf8')
        : users.map((user) => [`user ${user.username}`, ...(user.acl ?? []), ''].join('\n')).join('\n');
      await writeFile(acl, text);
      const conf = join(dir, 'mosquitto.conf');
      await writeFile(conf, mosquittoAuthConfig(port, passwords, acl));
      // Started as root, mosquitto drops to its own user, which must still read these (test data only).
      await Promise.all([chmod(dir, 0o755), chmod(passwords, 0o644), chmod(acl, 0o644), chmod(conf, 0o644)]);
      return startProcess('mosquitto', ['-c', conf], { cwd: dir });
    },
    ready: () => tcpAccepts(port),
    what: `mosquitto (with auth) to accept TCP on 127.0.0.1:${port}`,
  });
  return { port, url: `mqtt://127.0.0.1:${port}`, pid: daemon.pid, dir: daemon.dir, stop: daemon.stop };
}

/**
 * A Mosquitto configuration as production runs it: password file and ACL, no anonymous clients,
 * no persistence (a restart loses every session and queued message).
 */
export function mosquittoAuthConfig(port: number, passwords: string, acl: string): string {
  const config = [
    // Run as root (CI containers), Mosquitto would drop to user mosquitto, which cannot read a
    // private temp folder; this keeps it as it is. Started by another user, it has no effect.
    'user root',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${passwords}`,
    `acl_file ${acl}`,
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  return `${config.join('\n')}\n`;
}
