// The brokers a fault stack can run on one fixed port: ours (aedes) with its memory or Redis
// persistence, or Mosquitto with `persistence false`; each with a password for the agent and
// one for the backend, made the way an operator makes them.
import { execFile } from 'node:child_process';
import { chmod, copyFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DIST_DIR, startCli } from '../helpers/cli.js';
import { findProgram } from '../helpers/find-program.js';
import { mosquittoAuthConfig } from '../helpers/mosquitto-auth.js';
import { type RunningProcess, startProcess } from '../helpers/process.js';
import { tcpAccepts, waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);

export type BrokerKind = 'memory' | 'redis' | 'mosquitto';

export interface Credentials {
  username: string;
  password: string;
}

export interface StackUsers {
  agent: Credentials;
  backend: Credentials;
}

export function stackUsers(device: string): StackUsers {
  return { agent: { username: device, password: 'agent-secret' }, backend: { username: 'backend', password: 'backend-secret' } };
}

/** Our broker's credentials file, made with `furnace-broker passwd add` (README, "Running one part alone"). */
export async function writeBrokerUsers(file: string, users: StackUsers): Promise<void> {
  const cli = join(DIST_DIR, 'broker', 'cli.js');
  const add = (user: Credentials, role: string) =>
    run(process.execPath, [cli, 'passwd', 'add', user.username, '--role', role, '--password', user.password, '--file', file]);
  await add(users.agent, 'device');
  await add(users.backend, 'backend');
}

export interface BrokerOptions {
  kind: BrokerKind;
  port: number;
  /** Our broker's credentials file (aedes kinds). */
  usersFile: string;
  /** aedes with `--persistence redis`. */
  redisUrl?: string;
  /** Mosquitto's config folder (made by writeMosquittoConfig). */
  mosquittoConf?: string;
}

/** Starts the broker and resolves once it accepts clients. */
export async function launchBroker(options: BrokerOptions): Promise<RunningProcess> {
  const { kind, port } = options;
  if (kind === 'mosquitto') {
    if (!options.mosquittoConf) throw new Error('mosquitto needs its config (writeMosquittoConfig)');
    const proc = await startProcess('mosquitto', ['-c', options.mosquittoConf]);
    await waitFor(
      async () => {
        proc.assertRunning();
        return await tcpAccepts(port);
      },
      { timeoutMs: 15_000, what: `mosquitto to accept TCP on 127.0.0.1:${port}` },
    );
    return proc;
  }
  const persistence = kind === 'redis' ? ['--persistence', 'redis', '--redis-url', options.redisUrl ?? ''] : [];
  return startCli('broker', ['--host', '127.0.0.1', '--port', String(port), '--password-file', options.usersFile, ...persistence]);
}

/**
 * Mosquitto as production runs it: password file, the project's own ACL for Mosquitto
 * (broker/mosquitto.acl, as the README tells a plant to use it), no persistence, so a restart
 * loses every session and queued message.
 */
export async function writeMosquittoConfig(dir: string, port: number, _device: string, users: StackUsers): Promise<string> {
  const passwords = join(dir, 'mosquitto-passwords');
  const acl = join(dir, 'mosquitto-acl');
  const conf = join(dir, 'mosquitto.conf');
  const mosquittoPasswd = findProgram('mosquitto_passwd') ?? 'mosquitto_passwd';
  await run(mosquittoPasswd, ['-c', '-b', passwords, users.agent.username, users.agent.password]);
  await run(mosquittoPasswd, ['-b', passwords, users.backend.username, users.backend.password]);
  await copyFile(resolve(DIST_DIR, '..', 'broker', 'mosquitto.acl'), acl);
  await writeFile(conf, mosquittoAuthConfig(port, passwords, acl));
  await Promise.all([chmod(passwords, 0o600), chmod(acl, 0o644), chmod(conf, 0o644)]);
  return conf;
}
