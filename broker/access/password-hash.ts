// Salted scrypt password hashes (node:crypto), stored as PHC-style strings:
//   $scrypt$ln=14,r=8,p=1$<salt, base64>$<hash, base64>
// The cost parameters travel with each hash, so they can be raised later without breaking
// existing entries.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptCost {
  /** log2 of N, the CPU/memory cost. */
  ln: number;
  r: number;
  p: number;
}

/** About 50 ms and 16 MiB per check on a Raspberry Pi 4 class CPU: dear for guessing, cheap per CONNECT. */
export const DEFAULT_COST: ScryptCost = { ln: 14, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function derive(password: Buffer, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.ln;
  // scrypt needs 128 * N * r bytes; node refuses above maxmem (32 MiB by default).
  const maxmem = 256 * N * cost.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { N, r: cost.r, p: cost.p, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string | Buffer, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(Buffer.from(password), salt, cost);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `hash` is a hash string this module can check. */
export function isPasswordHash(hash: string): boolean {
  const match = FORMAT.exec(hash);
  if (!match) return false;
  const [ln, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return ln >= 10 && ln <= 20 && r >= 1 && p >= 1;
}

/** Checks `password` against `hash` in constant time; false for a malformed hash. */
export async function verifyPassword(password: Buffer, hash: string): Promise<boolean> {
  const match = FORMAT.exec(hash);
  if (!match || !isPasswordHash(hash)) return false;
  const cost = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  const salt = Buffer.from(match[4] ?? '', 'base64');
  const expected = Buffer.from(match[5] ?? '', 'base64');
  const actual = await derive(password, salt, cost);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

// Checked for unknown users too, so that the time taken does not tell which user names exist.
let decoy: Promise<string> | undefined;
export async function spendVerificationTime(password: Buffer): Promise<void> {
  decoy ??= hashPassword('decoy');
  await verifyPassword(password, await decoy);
}
