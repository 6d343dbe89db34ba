import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCredentialsFile } from './credentials.js';
import { runPasswd } from './passwd-cli.js';
import { verifyPassword } from './password-hash.js';
import { readNewPassword } from './password-input.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'broker-passwd-'));
  file = join(dir, 'users');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('furnace-broker passwd', () => {
  it('adds, updates, lists and removes users; the file holds only hashes', async () => {
    expect(await runPasswd(['add', 'furnace-1', '--role', 'device', '--password', 'pw-1', '--file', file], {})).toBe(
      `added furnace-1 (device) in ${file}\n`,
    );
    expect(await runPasswd(['add', 'ops', '--role', 'admin', '--password', 'pw-2', '--file', file], {})).toMatch(/^added ops/);
    expect(await runPasswd(['add', 'ops', '--role', 'viewer', '--password', 'pw-3', '--file', file], {})).toMatch(
      /^updated ops \(viewer\)/,
    );
    expect(await runPasswd(['list', '--file', file], {})).toBe('furnace-1\tdevice\nops\tviewer\n');
    expect(await runPasswd(['list', 'ops', '--file', file], {})).toBe('ops\tviewer\n');
    expect(readFileSync(file, 'utf8')).not.toMatch(/pw-/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const users = await readCredentialsFile(file);
    expect(await verifyPassword(Buffer.from('pw-3'), users.get('ops')?.hash ?? '')).toBe(true);
    expect(await runPasswd(['remove', 'ops'], { FURNACE_BROKER_AUTH_PASSWORD_FILE: file })).toBe(`removed ops from ${file}\n`);
    expect(await runPasswd(['list', '--file', file], {})).toBe('furnace-1\tdevice\n');
  });

  it('refuses bad use with a stable code and a reason', async () => {
    const add = (...args: string[]) => runPasswd(['add', ...args, '--file', file], {});
    await expect(add('x', '--password', 'p')).rejects.toMatchObject({
      code: 'BROKER_PASSWD_USAGE',
      message: expect.stringMatching(/--role/) as string,
    });
    await expect(add('x', '--role', 'wizard', '--password', 'p')).rejects.toMatchObject({ code: 'BROKER_PASSWD_USAGE' });
    await expect(add('dev.1', '--role', 'device', '--password', 'p')).rejects.toMatchObject({ code: 'BROKER_USER_INVALID' });
    await expect(add('a:b', '--role', 'admin', '--password', 'p')).rejects.toMatchObject({ code: 'BROKER_USER_INVALID' });
    await expect(add('x', '--role', 'admin', '--password', '')).rejects.toMatchObject({ code: 'BROKER_USER_INVALID' });
    await expect(runPasswd(['remove', 'nobody', '--file', file], {})).rejects.toMatchObject({ code: 'BROKER_USER_NOT_FOUND' });
    await expect(runPasswd(['list'], {})).rejects.toMatchObject({ code: 'BROKER_PASSWD_USAGE' });
    await expect(runPasswd(['frobnicate', '--file', file], {})).rejects.toMatchObject({ code: 'BROKER_PASSWD_USAGE' });
  });

  it('reads the password from the first line piped on stdin', async () => {
    const input = new PassThrough() as PassThrough & { isTTY?: boolean };
    input.end('from-stdin\nignored\n');
    expect(await readNewPassword(undefined, input as unknown as NodeJS.ReadStream)).toBe('from-stdin');
  });
});
