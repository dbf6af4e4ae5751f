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
 *
 * A PooledConnection is one object for the life of its upstream connection: it is the sink of
 * the connection's events while the pool holds it (reading the reset's answer, then watching the
 * parked connection), so a return and a checkout allocate nothing. The socket
 * keeps flowing throughout (UpstreamLink): a parked connection must notice a server that speaks
 * or closes, and handing it on needs no pause or resume. The reset's time limit and the idle time
 * are deadlines on the connection that the front's DeadlineSweep checks (`sweep`), not timers.
 */
import type { Logger } from '../core/log/logger.js';
import { AUTHENTICATION_OK, type BackendKey } from '../core/pg/backend-messages.js';
import { MessageReader } from '../core/pg/message-reader.js';
import { MAX_LOGIN_MESSAGE_BYTES, POOL_MAX_AGE_MS, POOL_RESET_QUERY, POOL_RESET_TIMEOUT_MS } from '../core/pg/pg-limits.js';
import { BackendType, TX_IDLE } from '../core/pg/protocol-codes.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import type { UpstreamLink, UpstreamSink } from './upstream-link.js';

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

export type PoolReturnOutcome = 'parked' | 'not_clean' | 'full' | 'too_old' | 'reset_failed' | 'stale' | 'closing';
export type PoolIdleEnd = 'idle_timeout' | 'upstream_closed' | 'upstream_spoke';

export interface PoolEvents {
  checkout(target: string, outcome: 'hit' | 'miss'): void;
  returned(target: string, outcome: PoolReturnOutcome): void;
  evicted(target: string, reason: PoolIdleEnd | 'too_old' | 'cleared'): void;
}

const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);
const COMMAND_COMPLETE = 0x43;

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

/** AuthenticationOk and the recorded ParameterStatus messages: how a reused connection's greeting starts. */
function greetingStart(parameters: ReadonlyMap<string, Buffer>): Buffer {
  return Buffer.concat([AUTHENTICATION_OK, ...parameters.values()]);
}

export function closeUpstream(link: UpstreamLink): void {
  link.attach(undefined);
  const socket = link.socket;
  if (socket.destroyed) return;
  socket.end(TERMINATE);
  if (socket.isPaused()) socket.resume(); // read (and drop) whatever the server still sends, so its FIN is seen
  setTimeout(() => socket.destroy(), 1000).unref();
}

type Phase = 'in-use' | 'resetting' | 'parked';

/** An upstream connection that can be handed to a client without a login. */
export class PooledConnection implements UpstreamSink {
  readonly link: UpstreamLink;
  readonly endpoint: UpstreamEndpoint;
  /** The upstream's real key (cancel routing). */
  readonly key: BackendKey | undefined;
  readonly createdAt: number;
  readonly generation: number;
  #parameters: Map<string, Buffer>;
  #greeting: Buffer | undefined;
  #phase: Phase = 'in-use';
  // While the pool holds it: where it goes and what ends the current phase.
  #pool: UpstreamPool | undefined;
  #slot: PoolSlot | undefined;
  /** When the reset's time or the parked idle time runs out (epoch ms; 0: none). */
  #dueAt = 0;
  #reader: MessageReader | undefined;
  #resetParameters: Map<string, Buffer> | undefined;

  constructor(
    link: UpstreamLink,
    endpoint: UpstreamEndpoint,
    key: BackendKey | undefined,
    greeting: readonly Buffer[],
    generation: number,
  ) {
    this.link = link;
    this.endpoint = endpoint;
    this.key = key;
    this.createdAt = Date.now();
    this.generation = generation;
    this.#parameters = new Map();
    for (const raw of greeting) if (raw[0] === BackendType.PARAMETER_STATUS) this.#parameters.set(parameterName(raw), raw);
  }

  /** ParameterStatus messages, raw, as the server last reported each parameter. */
  get parameters(): ReadonlyMap<string, Buffer> {
    return this.#parameters;
  }

  /** Where the pool holds it (its parking slot), while it does. */
  get slot(): PoolSlot | undefined {
    return this.#slot;
  }

  /** AuthenticationOk and the ParameterStatus messages, serialized once per reset (not per checkout). */
  get greeting(): Buffer {
    this.#greeting ??= greetingStart(this.#parameters);
    return this.#greeting;
  }

  /** Sends the reset query; `done` gets whether the answer was exactly what a clean reset says. */
  reset(pool: UpstreamPool, slot: PoolSlot): void {
    const socket = this.link.socket;
    this.#pool = pool;
    this.#slot = slot;
    if (this.link.closed || !socket.writable) {
      pool.resetDone(this, slot, false);
      return;
    }
    this.#phase = 'resetting';
    this.#reader ??= new MessageReader({ maxMessageBytes: MAX_LOGIN_MESSAGE_BYTES, peer: this.endpoint.label });
    this.#resetParameters = undefined;
    this.#dueAt = pool.resetStarted(this) + POOL_RESET_TIMEOUT_MS;
    this.link.attach(this);
    socket.write(RESET);
    if (socket.isPaused()) socket.resume();
  }

  /** Watches the parked connection: a server that speaks or closes, or the idle time running out, ends it. */
  park(now: number, idleMs: number): void {
    this.#phase = 'parked';
    this.link.attach(this);
    this.#dueAt = now + idleMs;
  }

  /** The pool hands it out or closes it: no more watching. */
  unpark(): void {
    this.#dueAt = 0;
    this.#phase = 'in-use';
    this.link.attach(undefined);
  }

  /** The sweep: a reset that took too long fails; a parked connection idle too long is evicted. */
  expireIfDue(now: number): void {
    if (this.#dueAt === 0 || now < this.#dueAt) return;
    if (this.#phase === 'resetting') this.#resetOver(false);
    else this.#evict('idle_timeout');
  }

  /** Returns true when the reader keeps part of `chunk` (a message not complete yet). */
  upstreamData(_link: UpstreamLink, chunk: Buffer): boolean {
    if (this.#phase === 'parked') {
      this.#evict('upstream_spoke');
      return false;
    }
    if (this.#phase !== 'resetting') return false;
    const reader = this.#reader as MessageReader;
    reader.push(chunk);
    try {
      for (let frame = reader.next(); frame; frame = reader.next()) {
        if (frame.type === BackendType.READY_FOR_QUERY) {
          // Anything after ReadyForQuery would be unexplained: do not park.
          this.#resetOver(frame.body[0] === TX_IDLE && reader.drain().length === 0);
          return false;
        }
        if (frame.type === BackendType.PARAMETER_STATUS) {
          this.#resetParameters ??= new Map(this.#parameters);
          this.#resetParameters.set(parameterName(frame.raw), Buffer.from(frame.raw));
        } else if (frame.type !== BackendType.NOTICE_RESPONSE && frame.type !== COMMAND_COMPLETE) {
          this.#resetOver(false);
          return false;
        }
      }
    } catch {
      this.#resetOver(false);
      return false;
    }
    return reader.buffered > 0;
  }

  upstreamEnd(): void {
    this.#lost();
  }

  upstreamClose(): void {
    this.#lost();
  }

  #lost(): void {
    if (this.#phase === 'parked') this.#evict('upstream_closed');
    else if (this.#phase === 'resetting') this.#resetOver(false);
  }

  #resetOver(ok: boolean): void {
    if (this.#phase !== 'resetting') return;
    this.#dueAt = 0;
    this.#phase = 'in-use';
    this.link.attach(undefined);
    this.#reader?.drain();
    if (ok && this.#resetParameters) {
      this.#parameters = this.#resetParameters;
      this.#greeting = undefined;
    }
    this.#resetParameters = undefined;
    (this.#pool as UpstreamPool).resetDone(this, this.#slot as PoolSlot, ok);
  }

  #evict(reason: PoolIdleEnd): void {
    if (this.#phase !== 'parked') return;
    (this.#pool as UpstreamPool).evict(this, this.#slot as PoolSlot, reason);
  }
}

export class UpstreamPool {
  readonly #idle = new Map<string, PooledConnection[]>();
  readonly #perTarget = new Map<string, number>();
  readonly #events: PoolEvents;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Connections waiting for their reset's answer (the sweep checks their time limit). */
  readonly #resetting = new Set<PooledConnection>();
  /** Tells the front's DeadlineSweep that a deadline was set. */
  readonly #watch: () => void;
  #generation = 0;
  #closed = false;

  constructor(log: Logger, events: PoolEvents, watch: () => void, now: () => number = Date.now) {
    this.#log = log;
    this.#events = events;
    this.#watch = watch;
    this.#now = now;
  }

  /** A connection sent its reset; returns the time it did (its time limit starts then). */
  resetStarted(conn: PooledConnection): number {
    this.#resetting.add(conn);
    this.#watch();
    return this.#now();
  }

  /**
   * One sweep of the deadlines: resets that took longer than POOL_RESET_TIMEOUT_MS fail, parked
   * connections idle longer than their target's idle time are closed. Returns whether any
   * connection is still resetting or parked.
   */
  sweep(): boolean {
    const now = this.#now();
    for (const conn of this.#resetting) conn.expireIfDue(now);
    for (const list of this.#idle.values()) {
      // Backwards: an eviction removes the connection from its list.
      for (let at = list.length - 1; at >= 0; at--) list[at]?.expireIfDue(now);
    }
    return this.#resetting.size > 0 || this.#idle.size > 0;
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
      const conn = list.pop() as PooledConnection;
      this.#forget(slot, conn, list);
      if (this.#now() - conn.createdAt >= POOL_MAX_AGE_MS) {
        closeUpstream(conn.link);
        this.#events.evicted(slot.target, 'too_old');
        continue;
      }
      this.#events.checkout(slot.target, 'hit');
      return conn;
    }
    this.#events.checkout(slot.target, 'miss');
    return undefined;
  }

  /**
   * Takes back a connection whose client left. `clean` is the PoolGate's verdict; a clean one is
   * reset and parked, anything else is closed. Never throws.
   */
  giveBack(slot: PoolSlot, conn: PooledConnection, clean: boolean): void {
    const refused = this.#refusal(slot, conn, clean);
    if (refused) this.#close(slot, conn, refused);
    else conn.reset(this, slot);
  }

  #refusal(slot: PoolSlot, conn: PooledConnection, clean: boolean): PoolReturnOutcome | undefined {
    if (this.#closed) return 'closing';
    if (!clean) return 'not_clean';
    if (conn.generation !== this.#generation) return 'stale';
    if (this.#now() - conn.createdAt >= POOL_MAX_AGE_MS) return 'too_old';
    if ((this.#perTarget.get(slot.target) ?? 0) >= slot.limits.maxIdle) return 'full';
    return undefined;
  }

  /** The reset's answer came (or failed): park the connection, or close it. */
  resetDone(conn: PooledConnection, slot: PoolSlot, ok: boolean): void {
    this.#resetting.delete(conn);
    // Checked again: a reload, a stop or other returns may have happened during the reset.
    const refused = ok ? this.#refusal(slot, conn, true) : 'reset_failed';
    if (refused) {
      this.#close(slot, conn, refused);
      return;
    }
    let list = this.#idle.get(slot.key);
    if (!list) {
      list = [];
      this.#idle.set(slot.key, list);
    }
    list.push(conn);
    this.#perTarget.set(slot.target, (this.#perTarget.get(slot.target) ?? 0) + 1);
    conn.park(this.#now(), slot.limits.idleMs);
    this.#watch();
    this.#events.returned(slot.target, 'parked');
  }

  #close(slot: PoolSlot, conn: PooledConnection, outcome: PoolReturnOutcome): void {
    closeUpstream(conn.link);
    this.#events.returned(slot.target, outcome);
  }

  /** A parked connection ended on its own (idle time over, the server spoke or closed). */
  evict(conn: PooledConnection, slot: PoolSlot, reason: PoolIdleEnd): void {
    const list = this.#idle.get(slot.key);
    const at = list?.indexOf(conn) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    this.#forget(slot, conn, list);
    if (reason === 'upstream_closed') conn.link.socket.destroy();
    else closeUpstream(conn.link);
    this.#events.evicted(slot.target, reason);
    this.#log.debug({ target: slot.target, reason }, 'pooled postgres connection closed');
  }

  #forget(slot: PoolSlot, conn: PooledConnection, list: PooledConnection[]): void {
    conn.unpark();
    const left = (this.#perTarget.get(slot.target) ?? 1) - 1;
    if (left > 0) this.#perTarget.set(slot.target, left);
    else this.#perTarget.delete(slot.target);
    if (list.length === 0) this.#idle.delete(slot.key);
  }

  /** Closes every parked connection; connections in use are closed when they come back (a reload). */
  clear(): void {
    this.#generation++;
    for (const [key, list] of [...this.#idle]) {
      for (const conn of list.splice(0)) {
        const slot = conn.slot as PoolSlot;
        this.#forget(slot, conn, list);
        closeUpstream(conn.link);
        this.#events.evicted(slot.target, 'cleared');
      }
      this.#idle.delete(key);
    }
  }

  /** For a stop: closes everything and parks nothing more. */
  close(): void {
    this.#closed = true;
    this.clear();
  }
}
