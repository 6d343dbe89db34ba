// The credentials file: one user per line, `name:role:hash`, '#' starts a comment.
//   furnace-1:device:$scrypt$ln=14,r=8,p=1$...$...
// Never plain text: only salted scrypt hashes (password-hash.ts). The broker reads it at start
// and again on change or SIGHUP; `furnace-broker passwd` edits it.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isDeviceId } from '../../contract/index.js';
import { ROLES, type Role } from '../config.js';
import { BrokerError } from '../errors.js';
import { isPasswordHash } from './password-hash.js';

export interface Credential {
  readonly username: string;
  readonly role: Role;
  readonly hash: string;
}

export type Credentials = ReadonlyMap<string, Credential>;

// No '/', '+', '#' or ':' : a user name is substituted into topic patterns and is the first field of a line.
const USERNAME = /^[A-Za-z0-9_.@-]{1,128}$/;

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Why `username` cannot have `role`, or `undefined` when it can. */
export function usernameProblem(username: string, role: Role): string | undefined {
  if (!USERNAME.test(username))
    return `user name ${JSON.stringify(username)} is not allowed: use 1 to 128 characters of A-Z a-z 0-9 _ . @ -`;
  if (role === 'device' && !isDeviceId(username)) {
    return `a device's user name is its device id: ${JSON.stringify(username)} is not one (1 to 64 characters of A-Z a-z 0-9 _ -)`;
  }
  return undefined;
}

/** Parses the file's text; every bad line is reported, with its number. */
export function parseCredentials(text: string, source: string): { users: Map<string, Credential>; problems: string[] } {
  const users = new Map<string, Credential>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${index + 1}`;
    const [username = '', role = '', ...rest] = line.split(':');
    const hash = rest.join(':');
    if (!isRole(role)) return problems.push(`${where}: role ${JSON.stringify(role)} is not one of ${ROLES.join(', ')}`);
    const problem = usernameProblem(username, role);
    if (problem) return problems.push(`${where}: ${problem}`);
    if (!isPasswordHash(hash))
      return problems.push(`${where}: the password of ${username} is not a $scrypt$ hash (plain text is never accepted)`);
    if (users.has(username)) return problems.push(`${where}: user ${username} is listed twice`);
    users.set(username, { username, role, hash });
  });
  return { users, problems };
}

export function formatCredentials(users: Iterable<Credential>): string {
  const lines = [...users].sort((a, b) => a.username.localeCompare(b.username)).map((user) => `${user.username}:${user.role}:${user.hash}`);
  return `# furnace-broker credentials: user:role:scrypt hash. Edit with \`furnace-broker passwd\`.\n${lines.join('\n')}\n`;
}

/** Reads and checks the file; throws one BrokerError listing every problem. */
export async function readCredentialsFile(path: string): Promise<Map<string, Credential>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new BrokerError('BROKER_CREDENTIALS_UNREADABLE', `cannot read the credentials file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const { users, problems } = parseCredentials(text, path);
  if (problems.length > 0) throw new BrokerError('BROKER_CREDENTIALS_INVALID', `invalid credentials file:\n  ${problems.join('\n  ')}`);
  return users;
}

/** Writes the file atomically (temp file + rename, so the broker never reads half of it), mode 0600. */
export async function writeCredentialsFile(path: string, users: Iterable<Credential>): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, formatCredentials(users), { mode: 0o600 });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new BrokerError('BROKER_CREDENTIALS_UNWRITABLE', `cannot write the credentials file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
