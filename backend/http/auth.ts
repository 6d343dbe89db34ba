import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiTokenConfig } from '../config.js';
import { ApiError } from '../errors.js';

// API tokens. The config holds only SHA-256 hashes: a leaked config file or backup gives no
// working token. A plain hash is enough here (no slow KDF): tokens are 256 random bits, not
// passwords, so there is nothing to guess from a hash; and looking the hash up in a Map leaks
// nothing useful by timing, since the attacker does not choose the hash's bytes.

export type Scope = 'read' | 'admin';
/** What a route needs: `public` routes (probes, metrics, docs) need no token. */
export type RouteAccess = Scope | 'public';

export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  /** Requests per minute for this caller. */
  perMinute: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new token: 256 random bits, with a prefix that makes it easy to spot in a leak scanner. */
export function newToken(): string {
  return `ftk_${randomBytes(32).toString('base64url')}`;
}

export interface AuthOptions {
  tokens: readonly ApiTokenConfig[];
  openAccess: boolean;
  protectMetrics: boolean;
  perMinute: number;
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="furnace-backend"' };

/**
 * Checks the token of every request to a route whose `config.access` is `read` or `admin`, in
 * onRequest, before anything else runs; sets `request.principal` for logs and rate limits.
 */
export function installAuth(app: FastifyInstance, options: AuthOptions): void {
  const byHash = new Map(
    options.tokens.map((token) => [
      token.sha256,
      {
        name: token.name,
        scopes: new Set<Scope>(token.scopes),
        perMinute: token.rateLimitPerMinute ?? options.perMinute,
      } satisfies Principal,
    ]),
  );
  const everyone: Principal = { name: 'open-access', scopes: new Set<Scope>(['read', 'admin']), perMinute: options.perMinute };

  app.decorateRequest('principal', null);
  app.addHook('onRequest', (request, _reply, done) => {
    const access = accessOf(request, options.protectMetrics);
    if (access === 'public') return done();
    try {
      const principal = options.openAccess ? everyone : authenticate(request, byHash);
      request.principal = principal;
      if (!principal.scopes.has(access)) {
        throw new ApiError('API_FORBIDDEN', `the token "${principal.name}" lacks the ${access} scope this route needs`);
      }
      done();
    } catch (error) {
      done(error as ApiError);
    }
  });
}

function accessOf(request: FastifyRequest, protectMetrics: boolean): RouteAccess {
  // "No such route" gives nothing away, and is more useful than a 401.
  if (request.is404) return 'public';
  if (protectMetrics && request.routeOptions.url === '/metrics') return 'read';
  // Routes say what they need; one that forgot is treated as admin-only rather than open.
  return request.routeOptions.config.access ?? 'admin';
}

function authenticate(request: FastifyRequest, byHash: ReadonlyMap<string, Principal>): Principal {
  const header = request.headers.authorization;
  if (header === undefined) throw new ApiError('API_UNAUTHORIZED', 'authorization: a Bearer token is needed', CHALLENGE);
  const match = BEARER.exec(header);
  if (!match) throw new ApiError('API_UNAUTHORIZED', 'authorization: expected "Bearer <token>"', CHALLENGE);
  const principal = byHash.get(hashToken(match[1] ?? ''));
  if (!principal) throw new ApiError('API_UNAUTHORIZED', 'authorization: unknown token', CHALLENGE);
  return principal;
}
