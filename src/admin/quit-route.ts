/**
 * `POST /quitquitquit` on the admin listener: drain every front and exit 0, for sidecars of
 * Kubernetes Jobs and ECS one-off tasks, whose main container calls it when its work is done (the
 * path and verb Envoy and cloud-sql-proxy use). Behind the admin token when one is configured;
 * without one, only a caller on this machine may ask, and a relayed request never may.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { secretEquals } from '../core/crypto/secret-equal.js';
import type { ErrorKind } from '../core/errors.js';
import { audit } from '../core/log/audit.js';
import type { Logger } from '../core/log/logger.js';
import { forwardingHeader } from '../net/request-guards.js';
import { bearer } from './admin-api.js';

export const QUIT_PATH = '/quitquitquit';

export type QuitVerdict = { readonly quit: true } | { readonly quit: false; readonly kind: ErrorKind; readonly message: string };

/** True for a peer address on this machine: 127.0.0.0/8, ::1 (also IPv4-mapped), or a unix socket. */
export function isLocalPeer(remote: string | undefined): boolean {
  if (remote === undefined) return true;
  const address = remote.startsWith('::ffff:') && isIP(remote.slice(7)) === 4 ? remote.slice(7) : remote;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** Whether this request may stop the daemon, and if not, the refusal to answer. */
export function judgeQuit(req: IncomingMessage, adminToken: string | undefined, logger: Logger): QuitVerdict {
  if (req.method !== 'POST') return { quit: false, kind: 'METHOD_NOT_ALLOWED', message: `${QUIT_PATH} takes POST` };
  const forwarded = forwardingHeader(req);
  if (forwarded) return { quit: false, kind: 'FORWARDED_REFUSED', message: `requests relayed by a proxy (${forwarded}) are refused` };
  // Compared even when no token is configured, so timing says nothing about whether one is.
  const tokenMatches = secretEquals(bearer(req), adminToken ?? '');
  const allowed = adminToken !== undefined ? tokenMatches : isLocalPeer(req.socket.remoteAddress);
  audit(logger, 'admin.quit', { remote: req.socket.remoteAddress, outcome: allowed ? 'ok' : 'refused' });
  if (allowed) return { quit: true };
  return adminToken !== undefined
    ? { quit: false, kind: 'UNAUTHORIZED', message: 'send Authorization: Bearer <admin token>' }
    : { quit: false, kind: 'FORBIDDEN', message: `without admin.token, ${QUIT_PATH} is answered to callers on this machine only` };
}
