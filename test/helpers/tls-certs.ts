// Throw-away TLS material for tests, made by openssl in a temp folder: a CA, a server
// certificate for localhost / 127.0.0.1, and client certificates whose common names are user
// names. EC P-256 keys: quick to make, and every client we test with speaks them.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findProgram } from './find-program.js';

const run = promisify(execFile);

export interface KeyPair {
  cert: string;
  key: string;
}

export interface TlsCerts {
  dir: string;
  /** The CA certificate (PEM path), which signed all the others. */
  ca: string;
  server: KeyPair;
  /** Client certificates by common name. */
  clients: Record<string, KeyPair>;
  /** Removes the folder. */
  remove: () => Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run(findProgram('openssl') ?? 'openssl', args, { cwd: dir });
}

async function signed(dir: string, name: string, subject: string, extensions: string): Promise<KeyPair> {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    pair.key,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    pair.cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return pair;
}

/** Makes a CA, a server certificate and one client certificate per common name. */
export async function makeTlsCerts(clientNames: string[] = []): Promise<TlsCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'test-tls-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=furnace-test-ca',
    ]);
    const server = await signed(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    const clients: Record<string, KeyPair> = {};
    for (const name of clientNames) clients[name] = await signed(dir, `client-${name}`, `/CN=${name}`, 'extendedKeyUsage=clientAuth\n');
    return { dir, ca: join(dir, 'ca.pem'), server, clients, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
