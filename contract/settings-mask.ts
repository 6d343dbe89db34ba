// What `--print-config` shows: the settings in force with every secret masked. One function
// for every part, so a new secret key (or a password put inside a URL) is hidden the same way
// by all three CLIs without anyone having to remember to add it to a list.

export const SECRET_MASK = '********';

/**
 * A key that holds a secret: `password`, `secret`, `token`, or a camelCase name ending in one
 * (`apiToken`). Not `passwordFile` or `tokens` (a path, a list of hashed entries), which ops
 * need to see.
 */
const SECRET_KEY = /(^|[a-z0-9_])(password|secret|token)$/i;

/** A string that starts like an absolute URL (`mqtt://`, `https://`, `redis://`). */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Credentials inside a URL: the password of its user info (a lone user name too, since
 * `https://TOKEN@host` is how many services take a token) and every query value (`?token=...`,
 * `?code=...`). The host, port, path and query names stay, they are what one checks.
 */
export function maskUrlCredentials(value: string): string {
  if (!URL_LIKE.test(value)) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value; // not a URL the WHATWG parser takes: nothing in it we could find either
  }
  let changed = false;
  if (url.password !== '') {
    url.password = SECRET_MASK;
    changed = true;
  } else if (url.username !== '') {
    url.username = SECRET_MASK;
    changed = true;
  }
  if (url.search !== '') {
    const names = [...url.searchParams.keys()];
    // Rebuilt by hand: URLSearchParams would percent-encode the mask.
    url.search = names.map((name) => `${encodeURIComponent(name)}=${SECRET_MASK}`).join('&');
    changed = true;
  }
  return changed ? url.toString() : value;
}

function mask(value: unknown, key: string | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => mask(item, undefined));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([childKey, child]) => [childKey, mask(child, childKey)]));
  }
  if (value === undefined || value === null) return value;
  if (key !== undefined && SECRET_KEY.test(key)) return SECRET_MASK;
  return typeof value === 'string' ? maskUrlCredentials(value) : value;
}

/**
 * A copy of `settings` as `--print-config` prints it: the value of every secret key (at any
 * depth, in lists too) replaced by `********`, and the credentials inside any URL masked. The
 * settings given are not changed. (A secret key whose value is not a string prints as the
 * mask string too; the type does not say so, as no schema has such a key.)
 */
export function maskSecrets<T>(settings: T): T {
  return mask(settings, undefined) as T;
}
