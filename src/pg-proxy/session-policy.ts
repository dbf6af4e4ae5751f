/**
 * What differs between client mode and server mode, as the session sees it: who may connect,
 * where the session logs in and with which secret. client-policy.ts and server-policy.ts implement
 * it; proxy-session.ts does everything else.
 */
import type { SecureContext } from 'node:tls';
import type { LoginPacer } from '../core/pg/login-pacer.js';
import type { FrameSocket } from './frame-socket.js';
import type { UpstreamLoginRequest } from './upstream-login.js';
import type { PoolSlot } from './upstream-pool.js';

export interface StartupInfo {
  readonly params: ReadonlyMap<string, string>;
  readonly tls: boolean;
  readonly remote: string;
}

/** Where a session logs in, decided by the policy once the client is authenticated. */
export interface SessionPlan {
  readonly target: string;
  readonly localUser: string;
  readonly dbUser: string;
  readonly maxConnections: number;
  /** Where the upstream connection may be pooled (client mode with pooling on); undefined: never. */
  readonly pool?: PoolSlot;
  /** Paces new upstream logins to the target (pool hits are not paced); undefined: unpaced. */
  readonly logins?: LoginPacer;
  /** Builds the upstream login (signs or fetches the IAM token when needed). */
  upstream(): Promise<UpstreamLoginRequest>;
}

export interface SessionPolicy {
  readonly mode: 'client' | 'server';
  readonly tls: SecureContext | undefined;
  readonly requireTls: boolean;
  /** Whether plan() exchanges messages with the client (SCRAM): it then gets CLIENT_AUTH_TIMEOUT_MS of its own. */
  readonly authenticatesClient: boolean;
  /** Authenticates the client and picks the target; throws (or rejects with) a PgPeerError to refuse. */
  plan(startup: StartupInfo, frames: FrameSocket): SessionPlan | Promise<SessionPlan>;
}
