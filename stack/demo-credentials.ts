import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DemoCredentials {
  /** The broker's credentials file (scrypt hashes). */
  passwordFile: string;
  agent: { username: string; password: string };
  backend: { username: string; password: string };
}

/**
 * The demo runs the broker as a plant would, with authentication on: one device user for
 * the agent and one backend user, made once with `furnace-broker passwd` and kept under
 * the data folder (the plain passwords beside the hashes, mode 0600, for the next start).
 */
export function ensureDemoCredentials(dataDir: string, device: string, brokerCli: string): DemoCredentials {
  const dir = join(dataDir, 'broker');
  const passwordFile = join(dir, 'users');
  const secretsFile = join(dir, 'demo-passwords.json');
  if (existsSync(passwordFile) && existsSync(secretsFile)) {
    const saved = JSON.parse(readFileSync(secretsFile, 'utf8')) as Omit<DemoCredentials, 'passwordFile'>;
    return { passwordFile, ...saved };
  }
  mkdirSync(dir, { recursive: true });
  const users = {
    agent: { username: device, password: randomBytes(18).toString('base64url') },
    backend: { username: 'backend', password: randomBytes(18).toString('base64url') },
  };
  for (const [role, user] of [
    ['device', users.agent],
    ['backend', users.backend],
  ] as const) {
    const result = spawnSync(process.execPath, [brokerCli, 'passwd', 'add', user.username, '--role', role, '--file', passwordFile], {
      input: `${user.password}\n`,
      encoding: 'utf8',
    });
    if (result.status !== 0) {
      throw new Error(`could not create the demo broker user ${user.username}: ${result.stderr.trim() || `exit ${result.status}`}`);
    }
  }
  writeFileSync(secretsFile, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
  return { passwordFile, ...users };
}
