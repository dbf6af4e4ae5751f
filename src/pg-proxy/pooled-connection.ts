/**
 * One upstream connection the session pool can hand to a client without a login (see
 * upstream-pool.ts for the pool itself). It is one object for the life of its upstream connection:
 * it is the sink of the connection's events while the pool holds it (reading the reset's answer,
 * then watching the parked connection), so a return and a checkout allocate nothing. The socket
 * keeps flowing throughout (UpstreamLink): a parked connection must notice a server that speaks
 * or closes, and handing it on needs no pause or resume. The reset's time limit and the idle time
 * are deadlines on the connection that the front's DeadlineSweep checks (`UpstreamPool.sweep`),
 * not timers.
 */
import { AUTHENTICATION_OK, type BackendKey } from '../core/pg/backend-messages.js';
import { MessageReader } from '../core/pg/message-reader.js';
import { MAX_LOGIN_MESSAGE_BYTES, POOL_RESET_QUERY, POOL_RESET_TIMEOUT_MS } from '../core/pg/pg-limits.js';
import { BackendType, TX_IDLE } from '../core/pg/protocol-codes.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import type { UpstreamLink, UpstreamSink } from './upstream-link.js';
import type { PoolIdleEnd, PoolSlot, UpstreamPool } from './upstream-pool.js';

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
function parameterName(raw: Buffer): string {
  const end = raw.indexOf(0, 5);
  return raw.toString('utf8', 5, end < 0 ? raw.length : end);
}

/** AuthenticationOk and the recorded ParameterStatus messages: how a reused connection's greeting starts. */
function greetingStart(parameters: ReadonlyMap<string, Buffer>): Buffer {
  return Buffer.concat([AUTHENTICATION_OK, ...parameters.values()]);
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
