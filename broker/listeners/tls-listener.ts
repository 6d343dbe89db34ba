import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { type TLSSocket, createServer } from 'node:tls';
import type { BrokerConfig } from '../config.js';
import { BrokerError } from '../errors.js';
import { type Listening, listen } from './listen.js';
import type { ListenerDeps } from './listener-deps.js';

async function readPem(path: string, setting: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new BrokerError('BROKER_TLS_FILES_UNREADABLE', `cannot read ${setting} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** The common name of a verified client certificate, if the client sent one. */
function certificateName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const name = socket.getPeerCertificate().subject?.CN;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * MQTT over TLS (default port 8883). With tls.caFile, clients may log in with a certificate
 * signed by that CA instead of a password; tls.requireClientCertificate makes it mandatory.
 */
export async function startTlsListener(config: BrokerConfig['tls'], deps: ListenerDeps): Promise<Listening> {
  const [cert, key, ca] = await Promise.all([
    readPem(config.certFile ?? '', 'tls.certFile'),
    readPem(config.keyFile ?? '', 'tls.keyFile'),
    config.caFile === undefined ? undefined : readPem(config.caFile, 'tls.caFile'),
  ]);
  let server;
  try {
    server = createServer({
      cert,
      key,
      ca,
      requestCert: ca !== undefined,
      rejectUnauthorized: config.requireClientCertificate,
      // A client that never finishes the handshake is a half-open connection like any other.
      handshakeTimeout: deps.connectTimeoutMs,
    });
  } catch (error) {
    throw new BrokerError('BROKER_TLS_FILES_UNREADABLE', `tls.certFile / tls.keyFile / tls.caFile: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // Counted at TCP accept, before the handshake, so that half-open TLS connections count too.
  server.on('connection', (socket: Socket) => void deps.connections.admit(socket, 'tls'));
  server.on('secureConnection', (socket: TLSSocket) => {
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    // Under requestCert without rejectUnauthorized, a bad certificate still gets this far: refuse it
    // rather than quietly ignore it.
    if (!socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
      deps.log.warn({ remoteAddress, reason: socket.authorizationError }, 'TLS client certificate refused');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    deps.attach(socket, { listener: 'tls', remoteAddress, certificateName: certificateName(socket) });
  });
  server.on('tlsClientError', (error, socket) =>
    deps.log.debug({ err: error, remoteAddress: socket.remoteAddress }, 'TLS handshake failed'),
  );
  return listen(server, config.host, config.port, 'tls.port');
}
