/**
 * One client connection to the guard: an explicit loop of read head -> decide -> write reply,
 * one request at a time. Pipelined requests wait in the buffer; reading pauses only when more than
 * MAX_PIPELINED_BYTES wait (pausing on every request would cost two syscalls each).
 * Unparseable heads are answered and the connection closed.
 */
import type { Socket } from 'node:net';
import type { AccessLog, AccessRequest } from './access-log.js';
import { errorReply, type GuardReply, serializeReply } from './guard-reply.js';
import { parseRequestHead, type RequestHead } from './request-head.js';

/** How long a client may take to send one complete request head, in milliseconds. */
export const HEAD_TIMEOUT_MS = 10_000;
/** How long a connection may sit idle (keep-alive or mid-head), in milliseconds. */
export const IDLE_TIMEOUT_MS = 5_000;
/** How often idle connections are looked for, in milliseconds: an idle one closes within this after IDLE_TIMEOUT_MS. */
export const IDLE_SWEEP_MS = 1_000;
/** Sweeps a connection may stay idle through. */
const IDLE_SWEEPS = Math.ceil(IDLE_TIMEOUT_MS / IDLE_SWEEP_MS);
/** Bytes a client may send ahead (pipelined) while a request is in progress before reading pauses. */
export const MAX_PIPELINED_BYTES = 64 * 1024; // 64 KiB

/** The buffer when nothing waits (shared: a request that is read whole allocates no view). */
const EMPTY = Buffer.alloc(0);

/** What a head that never completed says about itself in the access line. */
const NO_REQUEST: AccessRequest = Object.freeze({});

const INTERNAL_ERROR = () => errorReply('INTERNAL', 'internal error', { decision: 'error', rule: 'internal', close: true });

/**
 * Idle connections are found by one sweep every IDLE_SWEEP_MS rather than a timer per socket:
 * socket.setTimeout re-arms its timer on every read and every write, a cost paid by every
 * request for an event that almost never happens. A connection notes the sweep count when it reads or
 * answers; the sweep closes those whose note is IDLE_SWEEPS old.
 */
export class IdleSweeps {
  /** Sweeps so far. */
  count = 0;
  readonly #connections: Iterable<GuardConnection>;
  #timer: NodeJS.Timeout | undefined;

  constructor(connections: Iterable<GuardConnection>) {
    this.#connections = connections;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.sweep(), IDLE_SWEEP_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One sweep (the timer's; tests call it directly). */
  sweep(): void {
    this.count++;
    for (const connection of this.#connections) connection.closeIfIdle(this.count);
  }
}

export type RequestHandler = (head: RequestHead, remote: string | undefined) => GuardReply | Promise<GuardReply>;

export class GuardConnection {
  readonly #socket: Socket;
  readonly #handle: RequestHandler;
  readonly #log: AccessLog;
  /** The peer's address, read once (the getter asks the handle each time). */
  readonly #remote: string | undefined;
  #buffer: Buffer = EMPTY;
  #busy = false;
  #closing = false;
  /** The client half-closed: answer what it sent, then close. */
  #ended = false;
  #headTimer: NodeJS.Timeout | undefined;
  readonly #sweeps: IdleSweeps;
  /** The sweep count at the last read or answer. */
  #activeAt: number;

  constructor(socket: Socket, handle: RequestHandler, log: AccessLog, sweeps: IdleSweeps) {
    this.#socket = socket;
    this.#handle = handle;
    this.#log = log;
    this.#sweeps = sweeps;
    this.#activeAt = sweeps.count;
    this.#remote = socket.remoteAddress;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#activeAt = this.#sweeps.count;
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      if (this.#busy && this.#buffer.length > MAX_PIPELINED_BYTES) socket.pause();
      this.#pump();
    });
    // A client that half-closes after sending (printf ... | nc) still gets its answers, then the close.
    socket.on('end', () => {
      this.#ended = true;
      this.#pump();
      if (!this.#busy) socket.end();
    });
    // Resets and aborted clients are normal for a proxy; the close handler cleans up.
    socket.on('error', () => {});
    socket.on('close', () => this.#clearHeadTimer());
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** Finish the request in progress (if any), then close. */
  closeWhenIdle(): void {
    this.#closing = true;
    if (!this.#busy) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Closes the connection once it has been idle for more than IDLE_SWEEPS sweeps (IDLE_TIMEOUT_MS to IDLE_TIMEOUT_MS + IDLE_SWEEP_MS). */
  closeIfIdle(sweep: number): void {
    if (sweep - this.#activeAt > IDLE_SWEEPS) this.#socket.destroy();
  }

  #clearHeadTimer(): void {
    if (this.#headTimer) clearTimeout(this.#headTimer);
    this.#headTimer = undefined;
  }

  /** One write per reply (status line, headers and body in one buffer), then its access line. */
  #write(reply: GuardReply, request: AccessRequest, startedAt: number, close: boolean): void {
    if (!this.#socket.destroyed) this.#socket.write(serializeReply(reply, request.method === 'HEAD', close));
    this.#log.record(request, this.#remote, startedAt, reply);
    if (close) this.#socket.end();
  }

  /** Answers every complete request in the buffer; loops (no recursion) while answers are synchronous. */
  #pump(): void {
    for (;;) {
      if (this.#busy || this.#socket.destroyed) return;
      if (this.#buffer.length === 0) {
        this.#clearHeadTimer();
        return;
      }
      const parsed = parseRequestHead(this.#buffer);
      if (parsed.kind === 'partial') {
        this.#headTimer ??= setTimeout(() => {
          const reply = errorReply(
            'IMDS_AMBIGUOUS_REQUEST',
            'request head not complete in time',
            { decision: 'refuse', rule: 'http:head-timeout', close: true },
            408,
          );
          this.#write(reply, NO_REQUEST, performance.now(), true);
        }, HEAD_TIMEOUT_MS);
        return;
      }
      this.#clearHeadTimer();
      const startedAt = performance.now();
      if (parsed.kind === 'refused') {
        this.#buffer = EMPTY;
        const status = parsed.reason === 'head-too-large' ? 431 : 400;
        const reply = errorReply(
          'IMDS_AMBIGUOUS_REQUEST',
          `malformed request (${parsed.reason})`,
          { decision: 'refuse', rule: `http:${parsed.reason}`, close: true },
          status,
        );
        this.#write(reply, parsed, startedAt, true);
        return;
      }
      const { head } = parsed;
      this.#buffer = parsed.consumed === this.#buffer.length ? EMPTY : this.#buffer.subarray(parsed.consumed);
      this.#busy = true;
      let answer: GuardReply | Promise<GuardReply>;
      try {
        answer = this.#handle(head, this.#remote);
      } catch {
        answer = INTERNAL_ERROR();
      }
      if (answer instanceof Promise) {
        answer.catch(INTERNAL_ERROR).then((reply) => {
          if (!this.#answered(head, startedAt, reply)) return;
          this.#pump();
          if (this.#ended && !this.#busy) this.#socket.end();
        });
        return;
      }
      // Answered synchronously (refusals, denials): no promise and no closure for this request.
      if (!this.#answered(head, startedAt, answer)) return;
    }
  }

  /** Writes the reply and logs it; false when the connection closes after it. */
  #answered(head: RequestHead, startedAt: number, reply: GuardReply): boolean {
    const close = !head.keepAlive || this.#closing || reply.close === true;
    this.#activeAt = this.#sweeps.count;
    this.#write(reply, head, startedAt, close);
    this.#busy = false;
    if (close) return false;
    if (this.#socket.isPaused()) this.#socket.resume();
    return true;
  }
}
