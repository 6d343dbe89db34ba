// authenticate: who the client is (credentials file, client certificate, or anonymous when
// allowed), whether its client id and its will are acceptable, and its Session.
import type { Client } from 'aedes';
import { rightsFor } from '../access/acl.js';
import type { Credential } from '../access/credentials.js';
import { ConnackCode, type HookContext } from './hook-context.js';
import { spendVerificationTime, verifyPassword } from '../access/password-hash.js';
import { PublishThrottle } from '../guards/publish-throttle.js';
import type { Session } from './sessions.js';
import { isPublishableTopic } from '../access/topic-filter.js';

type Refusal = { code: ConnackCode; reason: string };
type Decision = { session: Session } | { refusal: Refusal };
type Identity = { credential: Credential | undefined } | { refusal: Refusal };
type AuthError = Error & { returnCode: number };
type AuthenticateCallback = (error: AuthError | null, success: boolean | null) => void;

const refuse = (code: ConnackCode, reason: string): { refusal: Refusal } => ({ refusal: { code, reason } });

export function createAuthenticate(ctx: HookContext) {
  return (client: Client, username: string | undefined, password: Buffer | undefined, callback: AuthenticateCallback): void => {
    decide(ctx, client, username, password).then(
      (decision) => {
        if ('session' in decision) {
          ctx.sessions.add(client, decision.session);
          ctx.log.debug({ clientId: client.id, username, role: decision.session.rights.role }, 'client authenticated');
          return callback(null, true);
        }
        const { code, reason } = decision.refusal;
        const info = ctx.connections.infoOf(client.conn);
        const fields = {
          clientId: client.id,
          username,
          remoteAddress: info.remoteAddress,
          listener: info.listener,
          returnCode: code,
          reason,
        };
        // Once per address and cause at warn: a password-guessing client must not flood the log.
        if (ctx.once.first(info.remoteAddress, `refused:${reason}`)) ctx.log.warn(fields, 'connection refused');
        else ctx.log.debug(fields, 'connection refused');
        callback(Object.assign(new Error(`connection refused: ${reason}`), { returnCode: code }), null);
      },
      (error: unknown) => {
        ctx.log.error({ clientId: client.id, err: error }, 'authentication failed unexpectedly');
        callback(Object.assign(new Error('authentication failed'), { returnCode: ConnackCode.serverUnavailable }), null);
      },
    );
  };
}

async function identify(ctx: HookContext, client: Client, username: string | undefined, password: Buffer | undefined): Promise<Identity> {
  const certificateName = ctx.connections.infoOf(client.conn).certificateName;
  const users = ctx.credentials();
  if (certificateName !== undefined) {
    // A client certificate verified against tls.caFile names the user; no password needed.
    if (username !== undefined && username !== certificateName)
      return refuse(ConnackCode.badCredentials, 'user name differs from the certificate name');
    const credential = users.get(certificateName);
    return credential ? { credential } : refuse(ConnackCode.notAuthorized, 'certificate name has no account');
  }
  if (username === undefined) {
    // [MQTT-3.1.2-22]: no password without a user name.
    if (password !== undefined) return refuse(ConnackCode.badCredentials, 'password without a user name');
    if (!ctx.config.auth.allowAnonymous) return refuse(ConnackCode.notAuthorized, 'anonymous clients are not allowed');
    return { credential: undefined };
  }
  const credential = users.get(username);
  if (!credential) {
    await spendVerificationTime(password ?? Buffer.alloc(0)); // same time as a wrong password
    return refuse(ConnackCode.badCredentials, 'unknown user');
  }
  if (password === undefined || !(await verifyPassword(password, credential.hash)))
    return refuse(ConnackCode.badCredentials, 'wrong password');
  return { credential };
}

async function decide(ctx: HookContext, client: Client, username: string | undefined, password: Buffer | undefined): Promise<Decision> {
  const identity = await identify(ctx, client, username, password);
  if ('refusal' in identity) return identity;
  const credential = identity.credential;
  const role = credential?.role ?? ctx.config.auth.anonymousRole;
  const rights = rightsFor(ctx.config.acl, role, credential?.username);
  if (role === 'device' && credential) {
    // A device is its user name: its client id must say so, so one device cannot take over another's session.
    const expected = ctx.config.auth.deviceClientId.replaceAll('{username}', credential.username);
    if (ctx.sessions.connectOf(client)?.clientId !== expected)
      return refuse(ConnackCode.identifierRejected, `a device must use the client id ${expected}`);
  }
  const will = ctx.sessions.connectOf(client)?.will;
  // The will is checked now, against the same rules as a PUBLISH: refused here, the device learns
  // of it at once (CONNACK 5) instead of its will silently vanishing later.
  if (will && (!isPublishableTopic(will.topic) || !rights.canPublish(will.topic))) {
    ctx.metrics.denied.inc({ kind: 'will', role });
    return refuse(ConnackCode.notAuthorized, `will topic ${JSON.stringify(will.topic.slice(0, 200))} not allowed`);
  }
  const { publishRatePerSecond, publishBurst } = ctx.config.limits;
  const info = ctx.connections.infoOf(client.conn);
  return { session: { credential, rights, info, throttle: new PublishThrottle(publishRatePerSecond, publishBurst) } };
}
