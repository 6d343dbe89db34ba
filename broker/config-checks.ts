import { aclProblems } from './access/acl.js';
import type { BrokerConfig } from './config.js';

/** The rules the schema cannot express, each naming the keys involved; empty when all hold. */
export function configProblems(config: BrokerConfig): string[] {
  const problems: string[] = [];
  if (!config.tcp.enabled && !config.tls.enabled && !config.ws.enabled) {
    problems.push('tcp.enabled, tls.enabled and ws.enabled are all false: enable at least one listener');
  }
  if (config.tls.enabled && (config.tls.certFile === undefined || config.tls.keyFile === undefined)) {
    problems.push('tls.enabled is true: set tls.certFile and tls.keyFile (PEM files)');
  }
  if (config.tls.requireClientCertificate && config.tls.caFile === undefined) {
    problems.push('tls.requireClientCertificate is true: set tls.caFile, the CA that signs client certificates');
  }
  if (config.limits.keepaliveMinSeconds > config.limits.keepaliveMaxSeconds) {
    problems.push(
      `limits.keepaliveMinSeconds = ${config.limits.keepaliveMinSeconds} is above limits.keepaliveMaxSeconds = ${config.limits.keepaliveMaxSeconds}`,
    );
  }
  if (config.auth.passwordFile === undefined && !config.auth.allowAnonymous) {
    problems.push(
      'auth.passwordFile is not set and auth.allowAnonymous is false, so no client could connect: ' +
        'create users with `furnace-broker passwd add USER --role ROLE --file FILE` and set auth.passwordFile ' +
        '(or, for development only, set auth.allowAnonymous / --allow-anonymous)',
    );
  }
  problems.push(...aclProblems(config.acl));
  return problems;
}
