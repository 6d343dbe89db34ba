// `furnace-broker passwd add|remove|list`: manages the credentials file. The running broker
// notices the change by itself (file watch) or on SIGHUP; no restart.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadBrokerConfig } from '../config.js';
import { type Credential, isRole, readCredentialsFile, usernameProblem, writeCredentialsFile } from './credentials.js';
import { BrokerError } from '../errors.js';
import { readNewPassword } from './password-input.js';
import { hashPassword } from './password-hash.js';
import { ROLES } from '../config.js';

export const PASSWD_HELP = `furnace-broker passwd: manage the broker's credentials file

  furnace-broker passwd add USER --role ROLE [--password P]   add a user, or change its password and role
  furnace-broker passwd remove USER                           remove a user
  furnace-broker passwd list [USER]                           list users and roles (never passwords)

  --role ROLE      ${ROLES.join(', ')} (a device's user name is its device id)
  --password P     the password; without it, it is read from stdin (first line) or asked for
  --file FILE      the credentials file (default: auth.passwordFile of --config / FURNACE_BROKER_AUTH_PASSWORD_FILE)
  --config FILE    broker settings, to find the credentials file

The file holds user:role:scrypt-hash lines, mode 0600. A running broker reloads it on change or SIGHUP.
`;

const usage = (message: string) => new BrokerError('BROKER_PASSWD_USAGE', `${message}\n\n${PASSWD_HELP}`);

async function readUsers(file: string): Promise<Map<string, Credential>> {
  return existsSync(file) ? readCredentialsFile(file) : new Map();
}

/** Runs the subcommand; resolves with what to print. Throws a BrokerError on bad use. */
export async function runPasswd(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      password: { type: 'string' },
      file: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return PASSWD_HELP;
  const [action, username, ...extra] = positionals;
  if (extra.length > 0) throw usage(`unexpected arguments: ${extra.join(' ')}`);
  const file =
    values.file ??
    env.FURNACE_BROKER_AUTH_PASSWORD_FILE ??
    (values.config ? loadBrokerConfig(values.config, env, { 'auth.allowAnonymous': 'true' }).auth.passwordFile : undefined);
  if (file === undefined) throw usage('which credentials file? give --file FILE (or --config with auth.passwordFile)');

  switch (action) {
    case 'add': {
      if (username === undefined) throw usage('passwd add needs a USER');
      const role = values.role;
      if (role === undefined || !isRole(role)) throw usage(`passwd add needs --role, one of ${ROLES.join(', ')}`);
      const problem = usernameProblem(username, role);
      if (problem) throw new BrokerError('BROKER_USER_INVALID', problem);
      const password = await readNewPassword(values.password);
      if (password === '') throw new BrokerError('BROKER_USER_INVALID', 'the password is empty');
      const users = await readUsers(file);
      const existed = users.has(username);
      users.set(username, { username, role, hash: await hashPassword(password) });
      await writeCredentialsFile(file, users.values());
      return `${existed ? 'updated' : 'added'} ${username} (${role}) in ${file}\n`;
    }
    case 'remove': {
      if (username === undefined) throw usage('passwd remove needs a USER');
      const users = await readUsers(file);
      if (!users.delete(username)) throw new BrokerError('BROKER_USER_NOT_FOUND', `no user ${username} in ${file}`);
      await writeCredentialsFile(file, users.values());
      return `removed ${username} from ${file}\n`;
    }
    case 'list': {
      const users = [...(await readUsers(file)).values()].filter((user) => username === undefined || user.username === username);
      if (username !== undefined && users.length === 0) throw new BrokerError('BROKER_USER_NOT_FOUND', `no user ${username} in ${file}`);
      return users.map((user) => `${user.username}\t${user.role}\n`).join('');
    }
    case undefined:
      throw usage('passwd needs an action');
    default:
      throw usage(`unknown action ${action}`);
  }
}
