import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatCredentials, parseCredentials, readCredentialsFile, writeCredentialsFile } from './credentials.js';
import { hashPassword, isPasswordHash, verifyPassword } from './password-hash.js';

// Cheap hashes keep the tests fast; the cost travels with each hash, so verification still works.
const CHEAP = { ln: 10, r: 8, p: 1 };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'broker-credentials-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('password hashes', () => {
  it('are salted scrypt, verified in constant time, and never the password', async () => {
    const one = await hashPassword('s3cret', CHEAP);
    const two = await hashPassword('s3cret', CHEAP);
    expect(one).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(one).not.toBe(two); // a fresh salt each time
    expect(one).not.toContain('s3cret');
    expect(await verifyPassword(Buffer.from('s3cret'), one)).toBe(true);
    expect(await verifyPassword(Buffer.from('s3cret '), one)).toBe(false);
    expect(await verifyPassword(Buffer.from('s3cret'), 's3cret')).toBe(false);
    expect(isPasswordHash(await hashPassword('x'))).toBe(true); // the default cost
  });
});

describe('credentials file', () => {
  it('round-trips users, roles and hashes', async () => {
    const hash = await hashPassword('pw', CHEAP);
    const text = formatCredentials([
      { username: 'furnace-1', role: 'device', hash },
      { username: 'ops@plant', role: 'admin', hash },
    ]);
    const { users, problems } = parseCredentials(text, 'f');
    expect(problems).toEqual([]);
    expect([...users.values()].map((u) => [u.username, u.role])).toEqual([
      ['furnace-1', 'device'],
      ['ops@plant', 'admin'],
    ]);
  });

  it('reports every bad line with its number, and refuses plain-text passwords', async () => {
    const hash = await hashPassword('pw', CHEAP);
    const text = [
      '# comment',
      '',
      `a:wizard:${hash}`,
      'b:viewer:hunter2',
      `dev.1:device:${hash}`,
      `c/d:viewer:${hash}`,
      `e:viewer:${hash}`,
      `e:admin:${hash}`,
    ].join('\n');
    const { users, problems } = parseCredentials(text, 'users');
    expect(problems).toEqual([
      'users:3: role "wizard" is not one of device, backend, viewer, admin',
      'users:4: the password of b is not a $scrypt$ hash (plain text is never accepted)',
      'users:5: a device\'s user name is its device id: "dev.1" is not one (1 to 64 characters of A-Z a-z 0-9 _ -)',
      'users:6: user name "c/d" is not allowed: use 1 to 128 characters of A-Z a-z 0-9 _ . @ -',
      'users:8: user e is listed twice',
    ]);
    expect([...users.keys()]).toEqual(['e']);
  });

  it('is written atomically with mode 0600, and read back', async () => {
    const file = join(dir, 'users');
    await writeCredentialsFile(file, [{ username: 'u', role: 'viewer', hash: await hashPassword('pw', CHEAP) }]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect([...(await readCredentialsFile(file)).keys()]).toEqual(['u']);
    writeFileSync(file, `${readFileSync(file, 'utf8')}x:viewer:plain\n`);
    await expect(readCredentialsFile(file)).rejects.toMatchObject({ code: 'BROKER_CREDENTIALS_INVALID' });
    await expect(readCredentialsFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'BROKER_CREDENTIALS_UNREADABLE' });
  });
});
