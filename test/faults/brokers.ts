// The brokers a fault stack can run on one fixed port: ours (aedes) with its memory or Redis
// persistence, or Mosquitto with `persistence false`; each with a password for the agent and
// one for the backend, made the way an operator makes them.
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DIST_DIR, startCli } from '../helpers/cli.js';
import { findProgram } from '../helpers/find-program.js';
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
 * Mosquitto as production runs it: password file and ACL (the contract's topics for each user),
 * no persistence, so a restart loses every session and queued message.
 */
export async function writeMosquittoConfig(dir: string, port: number, device: string, users: StackUsers): Promise<string> {
  const passwords = join(dir, 'mosquitto-passwords');
  const acl = join(dir, 'mosquitto-acl');
  const conf = join(dir, 'mosquitto.conf');
  const mosquittoPasswd = findProgram('mosquitto_passwd') ?? 'mosquitto_passwd';
  await run(mosquittoPasswd, ['-c', '-b', passwords, users.agent.username, users.agent.password]);
  await run(mosquittoPasswd, ['-b', passwords, users.backend.username, users.backend.password]);
  const rules = [
    `user ${users.agent.username}`,
    `topic readwrite telemetry/v1/${device}/#`,
    `topic readwrite cmd/v1/${device}/#`,
    '',
    `user ${users.backend.username}`,
    'topic readwrite telemetry/v1/#',
    'topic readwrite alerts/v1/#',
    'topic readwrite cmd/v1/#',
    '',
  ];
  await writeFile(acl, rules.join('\n'));
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
  await writeFile(conf, `${config.join('\n')}\n`);
  await Promise.all([chmod(passwords, 0o600), chmod(acl, 0o644), chmod(conf, 0o644)]);
  return conf;
}
