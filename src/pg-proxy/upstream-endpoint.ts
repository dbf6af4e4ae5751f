/**
 * Opens a connection to an upstream (the database, or a server proxy) and negotiates TLS the
 * libpq way: SSLRequest, 'S', then a TLS handshake verified per mode. Modes follow libpq's
 * sslmode: verify-full checks the chain against the CA and the host name; verify-ca the chain
 * only; require encrypts without verifying; disable sends plain TCP (never chosen by default).
 */
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectionOptions, checkServerIdentity, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { PgTlsMode } from '../core/config/sections/postgres-section.js';
import { SSL_REQUEST } from '../core/pg/frontend-messages.js';
import { MessageReader } from '../core/pg/message-reader.js';
import { MAX_LOGIN_MESSAGE_BYTES } from '../core/pg/pg-limits.js';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { SSL_ACCEPT, SSL_REFUSE } from '../core/pg/protocol-codes.js';
import { FrameSocket, PeerClosedError } from './frame-socket.js';
import { UpstreamReads } from './upstream-reads.js';

/** Where and how to reach one upstream; built once per target at start-up (CA files read then). */
export interface UpstreamEndpoint {
  /** For messages: "database orders (db.example:5432)". */
  readonly label: string;
  /** The config key a user edits to fix a problem with it: "postgres.targets.orders". */
  readonly configKey: string;
  /** The config key of its TLS settings: "postgres.targets.orders.tls". */
  readonly tlsKey: string;
  readonly host: string;
  readonly port: number;
  readonly tlsMode: PgTlsMode;
  /** PEM CA bundle; the system roots when undefined. */
  readonly ca: Buffer | undefined;
  readonly keepAliveMs: number;
}

export const RDS_CA_BUNDLE_URL = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem';

function tlsOptions(endpoint: UpstreamEndpoint, socket: Socket): ConnectionOptions {
  const base: ConnectionOptions = { socket, host: endpoint.host, ...(endpoint.ca ? { ca: endpoint.ca } : {}) };
  if (isIP(endpoint.host) === 0) base.servername = endpoint.host;
  switch (endpoint.tlsMode) {
    case 'verify-full':
      return { ...base, rejectUnauthorized: true, checkServerIdentity };
    case 'verify-ca':
      return { ...base, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    default:
      return { ...base, rejectUnauthorized: false, checkServerIdentity: () => undefined };
  }
}

function unreachable(endpoint: UpstreamEndpoint, error: unknown): PgPeerError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new PgPeerError('PG_UPSTREAM_UNREACHABLE', `cannot reach the ${endpoint.label}: ${code}`, {
    hint: `check ${endpoint.configKey} host and port, DNS, and that the network (security group) lets this host in`,
    cause: error,
  });
}

function tlsFailed(endpoint: UpstreamEndpoint, error: unknown): PgPeerError {
  const e = error as NodeJS.ErrnoException;
  return new PgPeerError(
    'PG_UPSTREAM_UNREACHABLE',
    `TLS verification of the ${endpoint.label} failed (${endpoint.tlsMode}): ${e.message}`,
    {
      hint:
        `check ${endpoint.tlsKey}.ca_file (for RDS use the global bundle from ${RDS_CA_BUNDLE_URL}) ` +
        'and that host is a name on the server certificate',
      cause: error,
    },
  );
}

function connectTcp(endpoint: UpstreamEndpoint, signal: AbortSignal, reads: UpstreamReads | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({
      host: endpoint.host,
      port: endpoint.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: endpoint.keepAliveMs,
      ...(reads ? { onread: reads.onread } : {}),
    });
    const onAbort = () => socket.destroy();
    const settle = (error?: unknown) => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(socket);
      else reject(error);
    };
    const onConnect = () => settle();
    const onError = (error: Error) => settle(unreachable(endpoint, error));
    const onClose = () => settle(signal.aborted ? signal.reason : unreachable(endpoint, new Error('connection closed')));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    socket.once('close', onClose);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

function handshake(endpoint: UpstreamEndpoint, socket: Socket, signal: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect(tlsOptions(endpoint, socket));
    const onAbort = () => secure.destroy();
    const settle = (error?: unknown) => {
      secure.off('secureConnect', onSecure);
      secure.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(secure);
      else {
        secure.destroy();
        reject(error);
      }
    };
    const onSecure = () => settle();
    const onError = (error: Error) => settle(signal.aborted ? signal.reason : tlsFailed(endpoint, error));
    secure.once('secureConnect', onSecure);
    secure.once('error', onError);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Connects and negotiates TLS as the endpoint's mode says; returns a message reader on the result. */
export async function openUpstream(endpoint: UpstreamEndpoint, signal: AbortSignal): Promise<FrameSocket> {
  // Plain TCP for the whole connection: read with onread into a reused buffer (UpstreamReads).
  const reads = endpoint.tlsMode === 'disable' ? new UpstreamReads() : undefined;
  const socket = await connectTcp(endpoint, signal, reads);
  const plain = new FrameSocket(
    socket,
    new MessageReader({ maxMessageBytes: MAX_LOGIN_MESSAGE_BYTES, peer: endpoint.label }),
    endpoint.label,
    reads,
  );
  if (endpoint.tlsMode === 'disable') return plain;
  try {
    plain.write(SSL_REQUEST);
    const answer = (await plain.readBytes(1))[0];
    if (answer === SSL_REFUSE) {
      throw new PgPeerError('PG_UPSTREAM_UNREACHABLE', `the ${endpoint.label} does not accept TLS (it answered N to SSLRequest)`, {
        hint: `turn ssl on at the server; ${endpoint.tlsKey}.mode: disable is possible only for password auth`,
      });
    }
    if (answer !== SSL_ACCEPT) {
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', `the ${endpoint.label} answered SSLRequest with an unexpected byte`);
    }
    // Bytes after 'S' and before the handshake could be injected by a man in the middle (CVE-2021-23222).
    if (plain.reader.buffered > 0) {
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', `the ${endpoint.label} sent unencrypted data after accepting TLS`);
    }
    socket.pause();
    plain.detach();
    const secure = await handshake(endpoint, socket, signal);
    return new FrameSocket(secure, new MessageReader({ maxMessageBytes: MAX_LOGIN_MESSAGE_BYTES, peer: endpoint.label }), endpoint.label);
  } catch (error) {
    socket.destroy();
    if (error instanceof PeerClosedError) throw unreachable(endpoint, error);
    throw error;
  }
}
