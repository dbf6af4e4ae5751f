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
import { performance } from 'node:perf_hooks';
import { audit } from '../core/log/audit.js';
import { type Logger, serializeError } from '../core/log/logger.js';
import {
  AUTHENTICATION_OK,
  BACKEND_KEY_DATA_BYTES,
  type BackendKey,
  encodeBackendKeyData,
  encodeNegotiateProtocolVersion,
  encodeReadyForQuery,
  writeBackendKeyData,
} from '../core/pg/backend-messages.js';
import type { CancelRegistration } from '../core/pg/cancel-keys.js';
import { CLIENT_AUTH_TIMEOUT_MS, STARTUP_TIMEOUT_MS } from '../core/pg/pg-limits.js';
import { PgPeerError, toPeerError } from '../core/pg/pg-peer-error.js';
import { PoolGate } from '../core/pg/pool-gate.js';
import { TX_IDLE } from '../core/pg/protocol-codes.js';
import { acceptStartup } from './accept-startup.js';
import { ByteRelay, type RelayCounters } from './byte-relay.js';
import { type FrameSocket, PeerClosedError } from './frame-socket.js';
import { loginOutcome } from './login-outcome.js';
import type { LoginOutcome } from './pg-metrics.js';
import { PooledConnection } from './pooled-connection.js';
import type { SessionHub } from './session-hub.js';
import { LOGIN_AUDIT_EVENT, loginLine, type SessionPlace, sessionClosedLine } from './session-lines.js';
import type { SessionPlan, SessionPolicy } from './session-policy.js';
import { closeUpstream, UpstreamLink } from './upstream-link.js';
import { upstreamLogin } from './upstream-login.js';

export type SessionState = 'startup' | 'authenticating' | 'logging-in' | 'relaying' | 'closed';

/** What the proxy tells sessions still open when a stop's drain time is over (PostgreSQL's own wording). */
export const SHUTDOWN_ERROR = new PgPeerError('SHUTTING_DOWN', 'terminating connection due to administrator command', {
  hint: 'the sidekey Postgres proxy is shutting down; reconnect in a moment',
});

const PROTOCOL_MINOR_SUPPORTED = 0;
const READY_IDLE = encodeReadyForQuery(TX_IDLE);
/** The prefix of protocol options (`_pq_.name`), which the proxy answers with NegotiateProtocolVersion. */
const PROTOCOL_OPTION_PREFIX = '_pq_.';
/** The abort reason when a session ends: stops a login still running on its behalf. */
const SESSION_OVER = new Error('the session is over');

/** The `_pq_.` options a client asked for, or undefined (the usual case: no array made). */
function protocolOptions(params: ReadonlyMap<string, string>): string[] | undefined {
  let options: string[] | undefined;
  for (const key of params.keys()) {
    if (key.startsWith(PROTOCOL_OPTION_PREFIX)) {
      options ??= [];
      options.push(key);
    }
  }
  return options;
}

/** The upstream connection a session relays to, and what its client is told first. */
interface Connected {
  readonly conn: PooledConnection;
  readonly reused: boolean;
  /** AuthenticationOk through ReadyForQuery, with the client's minted BackendKeyData. */
  readonly greeting: Buffer;
  /** Bytes the server sent after its ReadyForQuery (normally none). */
  readonly leftover: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class ProxySession {
  #state: SessionState = 'startup';
  readonly #socket: Socket;
  readonly #policy: SessionPolicy;
  readonly #hub: SessionHub;
  /**
   * For the rare lines (refusals, errors), which name the client and mode through it: made when
   * first needed. The audit and session lines carry those fields themselves and go to the hub's
   * logger, whose per-event child loggers are made once, not per session.
   */
  #logger: Logger | undefined;
  /** Made when first needed (a new upstream login, or a shutdown): a pooled session never needs one. */
  #abortController: AbortController | undefined;
  readonly #remote: string;
  #frames: FrameSocket | undefined;
  #relay: ByteRelay | undefined;
  #upstream: PooledConnection | undefined;
  /** The cancel key this session's client was given, if the upstream has one. */
  #registration: CancelRegistration | undefined;
  #plan: SessionPlan | undefined;
  #localUser: string | undefined;
  readonly #reported: RelayCounters = { toUpstream: 0, toClient: 0 };
  /** When the current phase's limit runs out (epoch ms; 0: none), and what it is, for the refusal. */
  #deadline = 0;
  #limitMs = 0;
  #limitMessage = '';

  readonly #arrived = performance.now();

  constructor(socket: Socket, policy: SessionPolicy, hub: SessionHub) {
    this.#socket = socket;
    this.#policy = policy;
    this.#hub = hub;
    this.#remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix-socket';
  }

  /** Seconds since the client connected, for the login histogram. */
  #sinceArrival(): number {
    return (performance.now() - this.#arrived) / 1000;
  }

  get #log(): Logger {
    this.#logger ??= this.#hub.logger.child({ client: this.#remote, mode: this.#policy.mode });
    return this.#logger;
  }

  get state(): SessionState {
    return this.#state;
  }

  get target(): string | undefined {
    return this.#plan?.target;
  }

  /** The sockets of a relaying session (for checks that nothing times them out). */
  get sockets(): { readonly client: Socket; readonly upstream: Socket | undefined } {
    return { client: this.#frames?.socket ?? this.#socket, upstream: this.#upstream?.link.socket };
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<void> {
    try {
      await this.#run();
    } catch (error) {
      this.#hub.logger.error({ err: serializeError(error) }, 'postgres session failed');
    } finally {
      this.#state = 'closed';
      this.#hub.ended(this);
    }
  }

  async #run(): Promise<void> {
    this.#limit(this.#hub.startupTimeoutMs ?? STARTUP_TIMEOUT_MS, 'timeout: no complete startup packet');
    let slot: string | undefined;
    try {
      const accepted = await acceptStartup(this.#socket, {
        tls: this.#policy.tls,
        requireTls: this.#policy.requireTls,
        onFrames: (frames) => {
          this.#frames = frames;
        },
      });
      if (accepted.kind === 'cancel') {
        this.#deadline = 0;
        this.#socket.destroy();
        this.#state = 'closed';
        await this.#hub.forwardCancel(accepted.key, this.#remote);
        return;
      }
      const { frames, params } = accepted;
      this.#localUser = params.get('user');
      const pqOptions = protocolOptions(params);
      if (accepted.minorVersion > PROTOCOL_MINOR_SUPPORTED || pqOptions) {
        frames.write(encodeNegotiateProtocolVersion(PROTOCOL_MINOR_SUPPORTED, pqOptions ?? []));
      }
      if (this.#hub.draining()) throw SHUTDOWN_ERROR;
      if (this.#policy.authenticatesClient) this.#limit(CLIENT_AUTH_TIMEOUT_MS, 'timeout: client authentication did not finish');
      this.#enter('authenticating');
      const planned = this.#policy.plan({ params, tls: accepted.tls, remote: this.#remote }, frames);
      const plan = planned instanceof Promise ? await planned : planned;
      this.#plan = plan;
      this.#deadline = 0;
      if (!this.#hub.acquire(plan.target, plan.maxConnections)) {
        throw new PgPeerError(
          'PG_TOO_MANY_CONNECTIONS',
          `too many connections for target "${plan.target}" (limit ${plan.maxConnections})`,
          {
            hint: `close idle sessions or raise postgres.targets.${plan.target}.max_connections`,
          },
        );
      }
      slot = plan.target;
      this.#enter('logging-in');
      const parked = plan.pool ? this.#hub.pool.take(plan.pool) : undefined;
      const connected = parked ? this.#reuse(parked) : await this.#login(plan);
      const conn = connected.conn;
      this.#enter('relaying');
      // frames.socket is the TLS socket when the client negotiated TLS, else the accepted one.
      const gate = plan.pool ? new PoolGate() : undefined;
      const relay = new ByteRelay(frames.socket, conn.link, gate);
      this.#relay = relay;
      frames.socket.write(connected.greeting);
      relay.start(frames.handOver(relay), connected.leftover);
      const place: SessionPlace = { mode: this.#policy.mode, target: plan.target, db_user: plan.dbUser };
      this.#hub.metrics.login(plan.target, 'ok', this.#sinceArrival());
      loginLine(this.#hub.logger, place, connected.reused, this.#remote, plan.localUser);
      const opened = Date.now();
      await relay.closed;
      this.flushBytes();
      if (relay.released) {
        // The client sent Terminate: the pool resets and parks the connection, or closes it.
        if (plan.pool) this.#hub.pool.giveBack(plan.pool, conn, gate?.reusable === true && !this.#hub.draining());
        else closeUpstream(conn.link);
      }
      sessionClosedLine(this.#hub.logger, place, this.#remote, Date.now() - opened, connected.reused, relay.counters);
    } catch (error) {
      this.#deadline = 0;
      // An upstream connection made (or taken from the pool) for a session that never relayed.
      if (this.#upstream && !this.#relay) this.#upstream.link.socket.destroy();
      this.#refuse(error);
    } finally {
      this.#deadline = 0;
      // A fixed reason: abort() without one builds a DOMException (with a stack) per session.
      this.#abortController?.abort(SESSION_OVER);
      if (slot !== undefined) this.#hub.releaseSlot(slot);
      this.#registration?.release();
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
   * The client's BackendKeyData: the backend's real pid and a secret minted for this session in
   * place of the real one (none when the upstream sent none).
   */
  #register(conn: PooledConnection): BackendKey | undefined {
    if (!conn.key) return undefined;
    this.#registration = this.#hub.cancels.register(conn.key.pid, { endpoint: conn.endpoint, key: conn.key });
    return this.#registration.key;
  }

  /**
   * A parked connection from the pool: the client's greeting is made here, in one buffer, from
   * the recorded ParameterStatus messages (serialized once per reset), its own minted key and
   * ReadyForQuery.
   */
  #reuse(conn: PooledConnection): Connected {
    this.#upstream = conn;
    const start = conn.greeting;
    const key = this.#register(conn);
    const greeting = Buffer.allocUnsafe(start.length + (key ? BACKEND_KEY_DATA_BYTES : 0) + READY_IDLE.length);
    start.copy(greeting, 0);
    if (key) writeBackendKeyData(greeting, start.length, key);
    READY_IDLE.copy(greeting, greeting.length - READY_IDLE.length);
    return { conn, reused: true, greeting, leftover: EMPTY };
  }

  /** A new upstream login: the client's greeting is the server's own, with the minted key in place of the real one. */
  async #login(plan: SessionPlan): Promise<Connected> {
    if (plan.logins) await plan.logins.wait(plan.target, this.#abort().signal);
    const generation = this.#hub.pool.generation;
    const request = await plan.upstream();
    const upstream = await upstreamLogin(request, this.#abort().signal);
    const conn = new PooledConnection(
      new UpstreamLink(upstream.socket, upstream.reads),
      request.endpoint,
      upstream.key,
      upstream.greeting,
      generation,
    );
    this.#upstream = conn;
    const greeting = [AUTHENTICATION_OK, ...upstream.greeting];
    const key = this.#register(conn);
    if (key) greeting.splice(greeting.length - 1, 0, encodeBackendKeyData(key));
    return { conn, reused: false, greeting: Buffer.concat(greeting), leftover: upstream.leftover };
  }

  #abort(): AbortController {
    this.#abortController ??= new AbortController();
    return this.#abortController;
  }

  #enter(state: SessionState): void {
    this.#state = state;
  }

  /** The current phase must end within `ms` (the front's DeadlineSweep checks it; no timer per session). */
  #limit(ms: number, message: string): void {
    this.#deadline = Date.now() + ms;
    this.#limitMs = ms;
    this.#limitMessage = message;
  }

  /** Called by the front's sweep: refuses a client whose phase ran past its limit. */
  expireIfDue(now: number): void {
    if (this.#deadline === 0 || now < this.#deadline) return;
    this.#deadline = 0;
    const error = new PgPeerError('PG_PROTOCOL_VIOLATION', `${this.#limitMessage} within ${this.#limitMs} ms`);
    this.#frames?.abort(error);
    // A TLS handshake in progress has no reader to abort: drop the connection.
    setImmediate(() => {
      if (this.#state !== 'relaying' && this.#state !== 'logging-in') this.#socket.destroy();
    });
  }

  #refuse(error: unknown): void {
    const state = this.#state;
    const outcome = loginOutcome(error, state);
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
    else this.#hub.metrics.login('(none)', outcome, this.#sinceArrival());
  }

  /** The audit line of a login attempt that failed (a successful one is written in #run). */
  #audit(outcome: LoginOutcome): void {
    const plan = this.#plan;
    const target = plan?.target ?? '(unknown)';
    this.#hub.metrics.login(target, outcome, this.#sinceArrival());
    audit(this.#hub.logger, LOGIN_AUDIT_EVENT, {
      mode: this.#policy.mode,
      client: this.#remote,
      outcome,
      target,
      local_user: plan?.localUser ?? this.#localUser ?? null,
      db_user: plan?.dbUser ?? null,
    });
  }
}
