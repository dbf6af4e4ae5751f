/**
 * Logs in to an upstream as a PostgreSQL client would: StartupMessage, then whichever
 * authentication the server asks for (cleartext for an IAM token, MD5, or SCRAM-SHA-256 with the
 * server signature verified), then collects the greeting up to ReadyForQuery. Upstream errors are
 * passed on with their own SQLSTATE, plus a hint on what to fix.
 */
import type { Socket } from 'node:net';
import {
  type BackendKey,
  decodeAuthRequest,
  decodeBackendKeyData,
  decodeCStringList,
  decodeErrorFields,
} from '../core/pg/backend-messages.js';
import {
  encodePasswordMessage,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeStartupMessage,
} from '../core/pg/frontend-messages.js';
import { md5PasswordAnswer } from '../core/pg/md5-password.js';
import type { Frame } from '../core/pg/message-reader.js';
import { UPSTREAM_LOGIN_TIMEOUT_MS } from '../core/pg/pg-limits.js';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { AuthCode, BackendType } from '../core/pg/protocol-codes.js';
import { ScramClient } from '../core/pg/scram-client.js';
import { SCRAM_SHA_256 } from '../core/pg/scram-primitives.js';
import { type FrameSocket, PeerClosedError } from './frame-socket.js';
import { openUpstream, type UpstreamEndpoint } from './upstream-endpoint.js';
import type { UpstreamReads } from './upstream-reads.js';

/** What answers the upstream's password request: a password, an IAM token, or nothing (a server proxy authenticates by startup parameters). */
export type UpstreamSecret =
  | { readonly kind: 'password'; readonly password: string }
  | { readonly kind: 'iam-token'; readonly token: string }
  | { readonly kind: 'none' };

export interface UpstreamLoginRequest {
  readonly endpoint: UpstreamEndpoint;
  /** StartupMessage parameters; `user` first. */
  readonly params: ReadonlyArray<readonly [string, string]>;
  readonly user: string;
  readonly secret: UpstreamSecret;
  readonly timeoutMs?: number;
}

export interface UpstreamSession {
  readonly socket: Socket;
  /** The upstream's real key; never shown to the client. */
  readonly key: BackendKey | undefined;
  /** ParameterStatus and NoticeResponse messages up to and including ReadyForQuery, as received. */
  readonly greeting: readonly Buffer[];
  /** Bytes received after ReadyForQuery (normally none). */
  readonly leftover: Buffer;
  /** Where a plain-TCP socket's bytes come from (it has no 'data' events); undefined over TLS. */
  readonly reads: UpstreamReads | undefined;
}

const unsupported = (endpoint: UpstreamEndpoint, method: string) =>
  new PgPeerError('PG_UNSUPPORTED', `the ${endpoint.label} asks for ${method} authentication, which the proxy does not support`, {
    hint: 'use password (cleartext over TLS), md5, scram-sha-256 or IAM authentication for this user',
  });

function upstreamError(request: UpstreamLoginRequest, frame: Frame): PgPeerError {
  const fields = decodeErrorFields(frame);
  const code = fields.get('C');
  const auth = code?.startsWith('28') === true;
  let hint = fields.get('H');
  if (auth && request.secret.kind === 'iam-token') {
    hint = `the IAM token for "${request.user}" was refused: the signing identity needs rds-db:connect on this DB user, the user needs GRANT rds_iam, and ${request.endpoint.configKey} region/host/port must name the instance`;
  } else if (auth && request.secret.kind === 'password') {
    hint = `check ${request.endpoint.configKey} auth.password`;
  }
  const severity = fields.get('V') ?? fields.get('S');
  return new PgPeerError('PG_UPSTREAM_REFUSED', `${request.endpoint.label}: ${fields.get('M') ?? 'login refused'}`, {
    ...(code === undefined ? {} : { sqlState: code }),
    severity: severity === 'ERROR' || severity === 'PANIC' ? severity : 'FATAL',
    ...(fields.get('D') === undefined ? {} : { detail: fields.get('D') as string }),
    ...(hint === undefined ? {} : { hint }),
  });
}

function secretText(request: UpstreamLoginRequest, method: string): string {
  const secret = request.secret;
  if (secret.kind === 'password') return secret.password;
  if (secret.kind === 'iam-token' && method === 'cleartext') return secret.token;
  throw new PgPeerError(
    'PG_AUTH_REFUSED',
    `the ${request.endpoint.label} asks for ${method} authentication, which this target cannot answer`,
    {
      hint:
        secret.kind === 'iam-token'
          ? `the database expects a password, not IAM: set ${request.endpoint.configKey} auth: { password: ... } or enable IAM auth for the user`
          : 'the server proxy must authenticate this session itself; check the target on the server proxy',
    },
  );
}

async function authenticate(request: UpstreamLoginRequest, frames: FrameSocket): Promise<void> {
  let scram: ScramClient | undefined;
  for (;;) {
    const frame = await frames.read();
    if (frame.type === BackendType.ERROR_RESPONSE) throw upstreamError(request, frame);
    if (frame.type === BackendType.NOTICE_RESPONSE) continue;
    const auth = frame.type === BackendType.AUTHENTICATION ? decodeAuthRequest(frame) : undefined;
    if (!auth)
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', `the ${request.endpoint.label} sent an unexpected message during authentication`);
    switch (auth.code) {
      case AuthCode.OK:
        return;
      case AuthCode.CLEARTEXT:
        frames.write(encodePasswordMessage(secretText(request, 'cleartext')));
        break;
      case AuthCode.MD5:
        if (auth.payload.length !== 4) throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'malformed MD5 authentication request');
        frames.write(encodePasswordMessage(md5PasswordAnswer(request.user, secretText(request, 'md5'), auth.payload)));
        break;
      case AuthCode.SASL: {
        const mechanisms = decodeCStringList(auth.payload);
        if (!mechanisms.includes(SCRAM_SHA_256)) throw unsupported(request.endpoint, `SASL (${mechanisms.join(', ')})`);
        scram = new ScramClient(secretText(request, 'SCRAM-SHA-256'));
        frames.write(encodeSaslInitialResponse(SCRAM_SHA_256, scram.clientFirst()));
        break;
      }
      case AuthCode.SASL_CONTINUE:
      case AuthCode.SASL_FINAL: {
        if (!scram)
          throw new PgPeerError('PG_PROTOCOL_VIOLATION', `the ${request.endpoint.label} continued a SASL exchange that was not started`);
        try {
          if (auth.code === AuthCode.SASL_CONTINUE) frames.write(encodeSaslResponse(scram.clientFinal(auth.payload)));
          else scram.verifyServerFinal(auth.payload);
        } catch (error) {
          throw new PgPeerError('PG_AUTH_REFUSED', `SCRAM with the ${request.endpoint.label} failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
        break;
      }
      case AuthCode.KERBEROS_V5:
        throw unsupported(request.endpoint, 'Kerberos V5');
      case AuthCode.GSS:
      case AuthCode.GSS_CONTINUE:
        throw unsupported(request.endpoint, 'GSSAPI');
      case AuthCode.SSPI:
        throw unsupported(request.endpoint, 'SSPI');
      default:
        throw unsupported(request.endpoint, `an unknown (code ${auth.code})`);
    }
  }
}

async function collectGreeting(
  request: UpstreamLoginRequest,
  frames: FrameSocket,
): Promise<{ key: BackendKey | undefined; greeting: Buffer[] }> {
  const greeting: Buffer[] = [];
  let key: BackendKey | undefined;
  for (;;) {
    const frame = await frames.read();
    switch (frame.type) {
      case BackendType.ERROR_RESPONSE:
        throw upstreamError(request, frame);
      case BackendType.BACKEND_KEY_DATA:
        key = decodeBackendKeyData(frame);
        if (!key) throw new PgPeerError('PG_PROTOCOL_VIOLATION', `the ${request.endpoint.label} sent a malformed BackendKeyData`);
        break;
      case BackendType.READY_FOR_QUERY:
        greeting.push(Buffer.from(frame.raw));
        return { key, greeting };
      default:
        greeting.push(Buffer.from(frame.raw));
    }
  }
}

/** Logs in; on any failure the upstream connection is closed and a PgPeerError explains why. */
export async function upstreamLogin(request: UpstreamLoginRequest, signal: AbortSignal): Promise<UpstreamSession> {
  const timeoutMs = request.timeoutMs ?? UPSTREAM_LOGIN_TIMEOUT_MS;
  const timeout = new PgPeerError(
    'PG_UPSTREAM_UNREACHABLE',
    `timed out after ${timeoutMs} ms logging in to the ${request.endpoint.label}`,
    {
      hint: `check that ${request.endpoint.configKey} host and port answer as PostgreSQL`,
    },
  );
  const combined = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  let frames: FrameSocket | undefined;
  const onAbort = () => frames?.abort(signal.aborted ? signal.reason : timeout);
  combined.addEventListener('abort', onAbort, { once: true });
  try {
    frames = await openUpstream(request.endpoint, combined);
    if (combined.aborted) onAbort();
    frames.write(encodeStartupMessage(request.params));
    await authenticate(request, frames);
    const { key, greeting } = await collectGreeting(request, frames);
    const leftover = frames.detach();
    return { socket: frames.socket, key, greeting, leftover, reads: frames.reads };
  } catch (error) {
    frames?.socket.destroy();
    if (combined.aborted && !signal.aborted && !(error instanceof PgPeerError && error !== timeout)) throw timeout;
    if (error instanceof PeerClosedError) {
      throw new PgPeerError('PG_CONNECTION_FAILURE', `the ${request.endpoint.label} closed the connection during login`, {
        hint: 'the server log says why (pg_hba.conf, max_connections, or a crash)',
        cause: error,
      });
    }
    throw error;
  } finally {
    combined.removeEventListener('abort', onAbort);
  }
}
