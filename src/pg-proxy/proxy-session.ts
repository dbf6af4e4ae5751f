/**
 * One incoming connection, as an explicit state machine:
 *
 *   startup -> authenticating -> logging-in -> relaying -> closed
 *       \-> (CancelRequest) forwarded, closed        any state -> closed (refused with an ErrorResponse)
 *
 * What differs between client mode and server mode (who may connect, where to log in, with
 * which secret) is the SessionPolicy; everything else (limits, cancel keys, greeting, relay,
 * shutdown, audit) is here.
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { audit } from '../core/log/audit.js';
import { type Logger, serializeError } from '../core/log/logger.js';
import {
  AUTHENTICATION_OK,
  type BackendKey,
  encodeBackendKeyData,
  encodeNegotiateProtocolVersion,
  encodeReadyForQuery,
} from '../core/pg/backend-messages.js';
import type { CancelKeyRegistry } from '../core/pg/cancel-keys.js';
import { CLIENT_AUTH_TIMEOUT_MS, STARTUP_TIMEOUT_MS } from '../core/pg/pg-limits.js';
import { PgPeerError, toPeerError } from '../core/pg/pg-peer-error.js';
import { PoolGate } from '../core/pg/pool-gate.js';
import { BackendType, TX_IDLE } from '../core/pg/protocol-codes.js';
import { SqlState } from '../core/pg/sql-state.js';
import { acceptStartup } from './accept-startup.js';
import { ByteRelay, type RelayCounters } from './byte-relay.js';
import { type FrameSocket, PeerClosedError } from './frame-socket.js';
import type { LoginOutcome, PgMetrics } from './pg-metrics.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { type UpstreamLoginRequest, upstreamLogin } from './upstream-login.js';
import { type PooledConnection, type PoolSlot, parameterName, type UpstreamPool } from './upstream-pool.js';

export type SessionState = 'startup' | 'authenticating' | 'logging-in' | 'relaying' | 'closed';

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
  /** Builds the upstream login (signs or fetches the IAM token when needed). */
  upstream(): Promise<UpstreamLoginRequest>;
}

export interface SessionPolicy {
  readonly mode: 'client' | 'server';
  readonly tls: SecureContext | undefined;
  readonly requireTls: boolean;
  /** Authenticates the client and picks the target; throws a PgPeerError to refuse. */
  plan(startup: StartupInfo, frames: FrameSocket): Promise<SessionPlan>;
}

export interface CancelRoute {
  readonly endpoint: UpstreamEndpoint;
  readonly key: BackendKey;
}

/** What the front shares with all its sessions. */
export interface SessionHub {
  readonly logger: Logger;
  readonly metrics: PgMetrics;
  readonly cancels: CancelKeyRegistry<CancelRoute>;
  readonly pool: UpstreamPool;
  readonly startupTimeoutMs?: number;
  draining(): boolean;
  /** Takes a connection slot for the target; undefined when it is full. */
  acquire(target: string, max: number): (() => void) | undefined;
  forwardCancel(key: BackendKey, remote: string): Promise<void>;
}

/** What the proxy tells sessions still open when a stop's drain time is over (PostgreSQL's own wording). */
export const SHUTDOWN_ERROR = new PgPeerError(SqlState.ADMIN_SHUTDOWN, 'terminating connection due to administrator command', {
  hint: 'the sidekey Postgres proxy is shutting down; reconnect in a moment',
});

const PROTOCOL_MINOR_SUPPORTED = 0;
const READY_IDLE = encodeReadyForQuery(TX_IDLE);
/** The abort reason when a session ends: stops a login still running on its behalf. */
const SESSION_OVER = new Error('the session is over');
const EMPTY = Buffer.alloc(0);

function outcomeOf(error: unknown, state: SessionState): LoginOutcome {
  if (error instanceof PeerClosedError) return 'client_gone';
  if (!(error instanceof PgPeerError)) return 'internal_error';
  const code = error.sqlState;
  if (code === SqlState.TOO_MANY_CONNECTIONS) return 'too_many_connections';
  if (code === SqlState.ADMIN_SHUTDOWN) return 'shutting_down';
  if (code.startsWith('28')) return state === 'logging-in' ? 'upstream_auth_failed' : 'client_auth_failed';
  if (code.startsWith('08') && state === 'logging-in') return 'upstream_unreachable';
  if (code === SqlState.PROTOCOL_VIOLATION || code === SqlState.FEATURE_NOT_SUPPORTED) return 'protocol_error';
  return 'refused';
}

export class ProxySession {
  #state: SessionState = 'startup';
  readonly #socket: Socket;
  readonly #policy: SessionPolicy;
  readonly #hub: SessionHub;
  readonly #log: Logger;
  /** Made when first needed (a new upstream login, or a shutdown): a pooled session never needs one. */
  #abortController: AbortController | undefined;
  readonly #remote: string;
  #frames: FrameSocket | undefined;
  #relay: ByteRelay | undefined;
  #upstreamSocket: Socket | undefined;
  #plan: SessionPlan | undefined;
  #localUser: string | undefined;
  #reused = false;
  readonly #reported: RelayCounters = { toUpstream: 0, toClient: 0 };

  constructor(socket: Socket, policy: SessionPolicy, hub: SessionHub) {
    this.#socket = socket;
    this.#policy = policy;
    this.#hub = hub;
    this.#remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix-socket';
    this.#log = hub.logger.child({ client: this.#remote, mode: policy.mode });
  }

  get state(): SessionState {
    return this.#state;
  }

  get target(): string | undefined {
    return this.#plan?.target;
  }

  /** The sockets of a relaying session (for checks that nothing times them out). */
  get sockets(): { readonly client: Socket; readonly upstream: Socket | undefined } {
    return { client: this.#frames?.socket ?? this.#socket, upstream: this.#upstreamSocket };
  }

  async run(): Promise<void> {
    let phaseTimer = this.#phaseTimer(this.#hub.startupTimeoutMs ?? STARTUP_TIMEOUT_MS, 'timeout: no complete startup packet');
    let release: (() => void) | undefined;
    let unregister: (() => void) | undefined;
    try {
      const accepted = await acceptStartup(this.#socket, {
        tls: this.#policy.tls,
        requireTls: this.#policy.requireTls,
        onFrames: (frames) => {
          this.#frames = frames;
        },
      });
      if (accepted.kind === 'cancel') {
        clearTimeout(phaseTimer);
        this.#socket.destroy();
        this.#state = 'closed';
        await this.#hub.forwardCancel(accepted.key, this.#remote);
        return;
      }
      const { frames, params } = accepted;
      this.#localUser = params.get('user');
      const pqOptions = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
      if (accepted.minorVersion > PROTOCOL_MINOR_SUPPORTED || pqOptions.length > 0) {
        frames.write(encodeNegotiateProtocolVersion(PROTOCOL_MINOR_SUPPORTED, pqOptions));
      }
      if (this.#hub.draining()) throw SHUTDOWN_ERROR;
      clearTimeout(phaseTimer);
      phaseTimer = this.#phaseTimer(CLIENT_AUTH_TIMEOUT_MS, 'timeout: client authentication did not finish');
      this.#enter('authenticating');
      const plan = await this.#policy.plan({ params, tls: accepted.tls, remote: this.#remote }, frames);
      this.#plan = plan;
      clearTimeout(phaseTimer);
      release = this.#hub.acquire(plan.target, plan.maxConnections);
      if (!release) {
        throw new PgPeerError(
          SqlState.TOO_MANY_CONNECTIONS,
          `too many connections for target "${plan.target}" (limit ${plan.maxConnections})`,
          {
            hint: `close idle sessions or raise postgres.targets.${plan.target}.max_connections`,
          },
        );
      }
      this.#enter('logging-in');
      const conn = await this.#connect(plan);
      this.#upstreamSocket = conn.socket;
      const greeting = [AUTHENTICATION_OK, ...conn.greeting];
      if (conn.pooled.key) {
        // The client sees a key minted here; the real one stays with the route.
        const registration = this.#hub.cancels.register({ endpoint: conn.pooled.endpoint, key: conn.pooled.key });
        unregister = registration.release;
        greeting.splice(greeting.length - 1, 0, encodeBackendKeyData(registration.key));
      }
      this.#enter('relaying');
      // frames.socket is the TLS socket when the client negotiated TLS, else the accepted one.
      const gate = plan.pool ? new PoolGate() : undefined;
      this.#relay = new ByteRelay(frames.socket, conn.socket, gate);
      frames.socket.write(Buffer.concat(greeting));
      this.#relay.start(frames.detach(), conn.leftover);
      this.#reused = conn.reused;
      this.#audit('ok');
      const opened = Date.now();
      await this.#relay.closed;
      this.flushBytes();
      if (this.#relay.released) {
        // The client sent Terminate: the pool resets and parks the connection, or closes it.
        if (plan.pool) void this.#hub.pool.giveBack(plan.pool, conn.pooled, gate?.reusable === true && !this.#hub.draining());
        else conn.socket.destroy();
      }
      this.#log.info(
        {
          target: plan.target,
          db_user: plan.dbUser,
          duration_ms: Date.now() - opened,
          reused_upstream: conn.reused,
          ...this.#relay.counters,
        },
        'postgres session closed',
      );
    } catch (error) {
      clearTimeout(phaseTimer);
      this.#refuse(error);
    } finally {
      clearTimeout(phaseTimer);
      // A fixed reason: abort() without one builds a DOMException (with a stack) per session.
      this.#abortController?.abort(SESSION_OVER);
      release?.();
      unregister?.();
      this.#state = 'closed';
    }
  }

  /**
   * Ends the session for a shutdown: a relaying session gets 57P01 between two server messages;
   * one still logging in is refused with 57P01 at once.
   */
  shutdown(): void {
    if (this.#state === 'closed') return;
    if (this.#relay) {
      this.#relay.terminate(SHUTDOWN_ERROR.toErrorResponse());
      return;
    }
    this.#frames?.abort(SHUTDOWN_ERROR);
    this.#abort().abort(SHUTDOWN_ERROR);
  }

  /** Folds relayed bytes into the metrics (called periodically and at the end). */
  flushBytes(): void {
    if (this.#relay && this.#plan) this.#hub.metrics.bytes(this.#plan.target, this.#relay.counters, this.#reported);
  }

  /**
   * The upstream connection: a parked one from the pool (answered locally: its recorded
   * ParameterStatus messages and ReadyForQuery), else a new login.
   */
  async #connect(
    plan: SessionPlan,
  ): Promise<{ socket: Socket; greeting: Buffer[]; leftover: Buffer; pooled: PooledConnection; reused: boolean }> {
    const parked = plan.pool ? this.#hub.pool.take(plan.pool) : undefined;
    if (parked) {
      return {
        socket: parked.socket,
        greeting: [...parked.parameters.values(), READY_IDLE],
        leftover: EMPTY,
        pooled: parked,
        reused: true,
      };
    }
    const generation = this.#hub.pool.generation;
    const request = await plan.upstream();
    const upstream = await upstreamLogin(request, this.#abort().signal);
    const parameters = new Map<string, Buffer>();
    for (const raw of upstream.greeting) if (raw[0] === BackendType.PARAMETER_STATUS) parameters.set(parameterName(raw), raw);
    const pooled: PooledConnection = {
      socket: upstream.socket,
      endpoint: request.endpoint,
      key: upstream.key,
      parameters,
      createdAt: Date.now(),
      generation,
    };
    return { socket: upstream.socket, greeting: upstream.greeting as Buffer[], leftover: upstream.leftover, pooled, reused: false };
  }

  #abort(): AbortController {
    this.#abortController ??= new AbortController();
    return this.#abortController;
  }

  #enter(state: SessionState): void {
    this.#state = state;
  }

  #phaseTimer(ms: number, message: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const error = new PgPeerError(SqlState.PROTOCOL_VIOLATION, `${message} within ${ms} ms`);
      this.#frames?.abort(error);
      // A TLS handshake in progress has no reader to abort: drop the connection.
      setImmediate(() => {
        if (this.#state !== 'relaying' && this.#state !== 'logging-in') this.#socket.destroy();
      });
    }, ms);
    timer.unref();
    return timer;
  }

  #refuse(error: unknown): void {
    const state = this.#state;
    const outcome = outcomeOf(error, state);
    if (error instanceof PeerClosedError) {
      this.#log.debug({ state }, 'client closed the connection before login finished');
      this.#socket.destroy();
    } else {
      const peer = toPeerError(error);
      if (peer !== error) this.#log.error({ err: serializeError(error), state }, 'internal error in a postgres session');
      else this.#log.info({ state, sqlstate: peer.sqlState, reason: peer.message }, 'postgres connection refused');
      const socket = this.#frames?.socket ?? this.#socket;
      if (!socket.destroyed && socket.writable) socket.end(peer.toErrorResponse());
      // A client that never reads would keep the socket open: drop it once the error is out.
      socket.once('finish', () => socket.destroy());
    }
    if (state !== 'startup' || this.#plan) this.#audit(outcome);
    else this.#hub.metrics.login('(none)', outcome);
  }

  /** One audit line per login attempt; the child logger adds client and mode. */
  #audit(outcome: LoginOutcome): void {
    const plan = this.#plan;
    const target = plan?.target ?? '(unknown)';
    this.#hub.metrics.login(target, outcome);
    audit(this.#log, 'pg.login', {
      outcome,
      target,
      local_user: plan?.localUser ?? this.#localUser ?? null,
      db_user: plan?.dbUser ?? null,
      ...(outcome === 'ok' ? { upstream: this.#reused ? 'pooled' : 'new' } : {}),
    });
  }
}
