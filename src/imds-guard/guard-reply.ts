/** What the guard answers one request with, and the facts its access log line and metrics record. */
import { STATUS_CODES } from 'node:http';
import { ErrorCodes, type ErrorKind } from '../core/errors.js';
import { errorAnswer } from '../net/error-reply.js';

export const DECISIONS = ['allow', 'deny', 'refuse', 'caller', 'error'] as const;
/** allow: forwarded; deny: policy 403; refuse: malformed or ambiguous (400/401/403); caller: answered per caller; error: upstream or core failure. */
export type Decision = (typeof DECISIONS)[number];

export interface GuardReply {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  readonly decision: Decision;
  /** The rule that decided, e.g. `default:user-data`, `canonical:dot-segment`, `header:x-forwarded-for`. */
  readonly rule: string;
  /** The canonical path, when the target had one. */
  readonly path?: string;
  /** The service a per-caller answer (or refusal) was for. */
  readonly caller?: string;
  readonly cache?: 'hit' | 'miss';
  /** Close the connection after this reply (set for unparseable requests). */
  readonly close?: boolean;
  /** Why an error happened, for the log only (never a secret: error codes and hosts). */
  readonly detail?: string;
}

export type ReplyFacts = Pick<GuardReply, 'decision' | 'rule'> & Partial<Pick<GuardReply, 'path' | 'caller' | 'close'>>;

/** Most distinct error bodies kept ready (refusals repeat: a flood of denied requests should be cheap). */
const MAX_CACHED_ERROR_BODIES = 1024;
const errorBodies = new Map<string, Buffer>();
const JSON_HEADERS: readonly (readonly [string, string])[] = [['Content-Type', 'application/json']];

/** An error answer written as net/error-reply.ts writes every one, for the guard's own socket writer. */
export function errorReply(kind: ErrorKind, message: string, facts: ReplyFacts, status: number = ErrorCodes[kind].status): GuardReply {
  const key = `${kind} ${message}`;
  let body = errorBodies.get(key);
  if (body === undefined) {
    body = Buffer.from(JSON.stringify(errorAnswer(kind, message).body));
    if (errorBodies.size < MAX_CACHED_ERROR_BODIES) errorBodies.set(key, body);
  }
  // One object shape for every error reply (no spread): cheaper to build, read and log.
  return {
    decision: facts.decision,
    rule: facts.rule,
    path: facts.path,
    caller: facts.caller,
    close: facts.close,
    status,
    headers: JSON_HEADERS,
    body,
  };
}

interface Wire {
  readonly status: number;
  readonly headers: GuardReply['headers'];
  /** Indexed by (head ? 2 : 0) + (close ? 1 : 0). */
  readonly variants: (Buffer | undefined)[];
}
/**
 * Serialized replies by body: refusals, denials and cached static answers share their body and
 * header list, so their bytes are built once. Used only when status and header list match too.
 */
const wires = new WeakMap<Buffer, Wire>();

/** Serializes a reply as an HTTP/1.1 response; a HEAD reply keeps the length but sends no body. */
export function serializeReply(reply: GuardReply, head: boolean, close: boolean): Buffer {
  let wire = wires.get(reply.body);
  if (wire === undefined || wire.status !== reply.status || wire.headers !== reply.headers) {
    wire = { status: reply.status, headers: reply.headers, variants: [] };
    wires.set(reply.body, wire);
  }
  const variant = (head ? 2 : 0) + (close ? 1 : 0);
  let bytes = wire.variants[variant];
  if (bytes === undefined) {
    bytes = buildReply(reply, head, close);
    wire.variants[variant] = bytes;
  }
  return bytes;
}

function buildReply(reply: GuardReply, head: boolean, close: boolean): Buffer {
  let text = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Unknown'}\r\n`;
  for (const [name, value] of reply.headers) text += `${name}: ${value}\r\n`;
  if (!reply.headers.some(([name]) => name.toLowerCase() === 'content-length')) text += `Content-Length: ${reply.body.length}\r\n`;
  text += close ? 'Connection: close\r\n\r\n' : '\r\n';
  const start = Buffer.from(text, 'latin1');
  return head || reply.body.length === 0 ? start : Buffer.concat([start, reply.body]);
}
