/**
 * Session pooling of upstream connections, in client (direct) mode only. When a client ends its
 * session cleanly (PoolGate says the server is idle and nothing unusual happened), the upstream
 * connection is reset with `DISCARD ALL` and parked under its key: (target, identity, upstream,
 * DB user, database, the client's startup parameters). A new client with the same key gets it
 * back without a new login: no IAM signature, no TLS handshake, no authentication.
 *
 * Bounds: `max_idle` parked connections per target (0 disables pooling), `idle_seconds` before a
 * parked connection is closed, POOL_MAX_AGE_MS of total life. A reload or a stop closes every
 * parked connection; connections of an earlier generation are closed when they come back.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../core/log/logger.js';
import type { BackendKey } from '../core/pg/backend-messages.js';
import { MessageReader } from '../core/pg/message-reader.js';
import { MAX_LOGIN_MESSAGE_BYTES, POOL_MAX_AGE_MS, POOL_RESET_QUERY, POOL_RESET_TIMEOUT_MS } from '../core/pg/pg-limits.js';
import { BackendType, TX_IDLE } from '../core/pg/protocol-codes.js';
import { FrameSocket } from './frame-socket.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';

export interface PoolLimits {
  /** Most parked connections for the target (all keys together); 0 disables pooling. */
  readonly maxIdle: number;
  readonly idleMs: number;
}

/** Where a session's connection may be pooled; decided by the policy (undefined: never). */
export interface PoolSlot {
  readonly target: string;
  readonly key: string;
  readonly limits: PoolLimits;
}

/** An upstream connection that can be handed to a client without a login. */
export interface PooledConnection {
  readonly socket: Socket;
  readonly endpoint: UpstreamEndpoint;
  /** The upstream's real key (cancel routing). */
  readonly key: BackendKey | undefined;
  /** ParameterStatus messages, raw, as the server last reported each parameter. */
  readonly parameters: ReadonlyMap<string, Buffer>;
  readonly createdAt: number;
  readonly generation: number;
}

export type PoolReturnOutcome = 'parked' | 'not_clean' | 'full' | 'too_old' | 'reset_failed' | 'stale' | 'closing';
export type PoolIdleEnd = 'idle_timeout' | 'upstream_closed' | 'upstream_spoke';

export interface PoolEvents {
  checkout(target: string, outcome: 'hit' | 'miss'): void;
  returned(target: string, outcome: PoolReturnOutcome): void;
  evicted(target: string, reason: PoolIdleEnd | 'too_old' | 'cleared'): void;
}

interface Parked {
  readonly conn: PooledConnection;
  readonly target: string;
  readonly key: string;
  readonly timer: NodeJS.Timeout;
  readonly unwatch: () => void;
}

const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

function queryMessage(sql: string): Buffer {
  const body = Buffer.from(`${sql}\0`, 'utf8');
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0x51;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}
const RESET = queryMessage(POOL_RESET_QUERY);

/** The parameter name of a raw ParameterStatus message. */
export function parameterName(raw: Buffer): string {
  const end = raw.indexOf(0, 5);
  return raw.toString('utf8', 5, end < 0 ? raw.length : end);
}

export function closeUpstream(socket: Socket): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('error', () => {});
  socket.end(TERMINATE);
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class UpstreamPool {
  readonly #idle = new Map<string, Parked[]>();
  readonly #perTarget = new Map<string, number>();
  readonly #events: PoolEvents;
  readonly #log: Logger;
  readonly #now: () => number;
  #generation = 0;
  #closed = false;

  constructor(log: Logger, events: PoolEvents, now: () => number = Date.now) {
    this.#log = log;
    this.#events = events;
    this.#now = now;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Parked connections per target (for the gauge). */
  idleCounts(): Iterable<readonly [string, number]> {
    return this.#perTarget.entries();
  }

  /** A parked connection for the slot (most recently parked first), or undefined. */
  take(slot: PoolSlot): PooledConnection | undefined {
    const list = this.#idle.get(slot.key);
    while (list && list.length > 0) {
      const parked = list.pop() as Parked;
      this.#forget(parked);
      if (this.#now() - parked.conn.createdAt >= POOL_MAX_AGE_MS) {
        closeUpstream(parked.conn.socket);
        this.#events.evicted(parked.target, 'too_old');
        continue;
      }
      this.#events.checkout(slot.target, 'hit');
      return parked.conn;
    }
    this.#events.checkout(slot.target, 'miss');
    return undefined;
  }

  /**
   * Takes back a connection whose client left. `clean` is the PoolGate's verdict; a clean one is
   * reset and parked, anything else is closed. Never throws.
   */
  async giveBack(slot: PoolSlot, conn: PooledConnection, clean: boolean): Promise<void> {
    const outcome = await this.#giveBack(slot, conn, clean).catch(() => 'reset_failed' as const);
    if (outcome !== 'parked') closeUpstream(conn.socket);
    this.#events.returned(slot.target, outcome);
  }

  async #giveBack(slot: PoolSlot, conn: PooledConnection, clean: boolean): Promise<PoolReturnOutcome> {
    if (this.#closed) return 'closing';
    if (!clean) return 'not_clean';
    if (conn.generation !== this.#generation) return 'stale';
    if (this.#now() - conn.createdAt >= POOL_MAX_AGE_MS) return 'too_old';
    if ((this.#perTarget.get(slot.target) ?? 0) >= slot.limits.maxIdle) return 'full';
    const parameters = await this.#reset(conn);
    if (!parameters) return 'reset_failed';
    // Checked again: a reload, a stop or other returns may have happened during the reset.
    if (this.#closed) return 'closing';
    if (conn.generation !== this.#generation) return 'stale';
    if ((this.#perTarget.get(slot.target) ?? 0) >= slot.limits.maxIdle) return 'full';
    this.#park(slot, { ...conn, parameters });
    return 'parked';
  }

  /** Sends the reset query and reads up to ReadyForQuery; the new parameter set, or undefined if anything is off. */
  async #reset(conn: PooledConnection): Promise<Map<string, Buffer> | undefined> {
    const socket = conn.socket;
    if (socket.destroyed || !socket.writable) return undefined;
    const frames = new FrameSocket(
      socket,
      new MessageReader({ maxMessageBytes: MAX_LOGIN_MESSAGE_BYTES, peer: conn.endpoint.label }),
      conn.endpoint.label,
    );
    const timer = setTimeout(() => frames.abort(new Error('reset timed out')), POOL_RESET_TIMEOUT_MS);
    const parameters = new Map(conn.parameters);
    try {
      frames.write(RESET);
      for (;;) {
        const frame = await frames.read();
        if (frame.type === BackendType.READY_FOR_QUERY) {
          if (frame.body[0] !== TX_IDLE) return undefined;
          break;
        }
        if (frame.type === BackendType.PARAMETER_STATUS) parameters.set(parameterName(frame.raw), Buffer.from(frame.raw));
        else if (frame.type !== BackendType.NOTICE_RESPONSE && frame.type !== 0x43 /* CommandComplete */) return undefined;
      }
      // Anything after ReadyForQuery would be unexplained: do not park.
      return frames.detach().length === 0 ? parameters : undefined;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #park(slot: PoolSlot, conn: PooledConnection): void {
    const socket = conn.socket;
    const evict = (reason: PoolIdleEnd) => {
      const list = this.#idle.get(slot.key);
      const at = list?.indexOf(parked) ?? -1;
      if (!list || at < 0) return;
      list.splice(at, 1);
      this.#forget(parked);
      if (reason === 'upstream_closed') socket.destroy();
      else closeUpstream(socket);
      this.#events.evicted(slot.target, reason);
      this.#log.debug({ target: slot.target, reason }, 'pooled postgres connection closed');
    };
    // A parked connection must stay silent; a server that speaks (57P01, idle_session_timeout) or closes is dropped.
    const onData = () => evict('upstream_spoke');
    const onClose = () => evict('upstream_closed');
    socket.on('data', onData);
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.on('error', onClose);
    socket.resume();
    const timer = setTimeout(() => evict('idle_timeout'), slot.limits.idleMs);
    timer.unref();
    const parked: Parked = {
      conn,
      target: slot.target,
      key: slot.key,
      timer,
      unwatch: () => {
        socket.pause();
        socket.off('data', onData);
        socket.off('end', onClose);
        socket.off('close', onClose);
        socket.off('error', onClose);
      },
    };
    let list = this.#idle.get(slot.key);
    if (!list) {
      list = [];
      this.#idle.set(slot.key, list);
    }
    list.push(parked);
    this.#perTarget.set(slot.target, (this.#perTarget.get(slot.target) ?? 0) + 1);
  }

  #forget(parked: Parked): void {
    clearTimeout(parked.timer);
    parked.unwatch();
    const left = (this.#perTarget.get(parked.target) ?? 1) - 1;
    if (left > 0) this.#perTarget.set(parked.target, left);
    else this.#perTarget.delete(parked.target);
    if (this.#idle.get(parked.key)?.length === 0) this.#idle.delete(parked.key);
  }

  /** Closes every parked connection; connections in use are closed when they come back (a reload). */
  clear(): void {
    this.#generation++;
    for (const list of [...this.#idle.values()]) {
      for (const parked of list.splice(0)) {
        this.#forget(parked);
        closeUpstream(parked.conn.socket);
        this.#events.evicted(parked.target, 'cleared');
      }
    }
    this.#idle.clear();
  }

  /** For a stop: closes everything and parks nothing more. */
  close(): void {
    this.#closed = true;
    this.clear();
  }
}
