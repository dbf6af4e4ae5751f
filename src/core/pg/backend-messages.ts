/** Encoders and decoders for the backend messages the proxy writes to clients or reads during upstream login. */

import type { Frame } from './message-reader.js';
import { AuthCode, BackendType } from './protocol-codes.js';

const HEADER_BYTES = 5; // type byte + int32 length

function message(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

function int32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(value, 0);
  return b;
}

const cstring = (text: string) => Buffer.from(`${text}\0`, 'utf8');
/** NUL ends a field on the wire; never let one inside a value cut a message short. */
const clean = (text: string) => text.replaceAll('\0', ' ');

export interface ErrorFields {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

export function encodeErrorResponse(fields: ErrorFields): Buffer {
  const parts: Buffer[] = [
    cstring(`S${clean(fields.severity)}`),
    cstring(`V${clean(fields.severity)}`),
    cstring(`C${clean(fields.code)}`),
    cstring(`M${clean(fields.message)}`),
  ];
  if (fields.detail !== undefined) parts.push(cstring(`D${clean(fields.detail)}`));
  if (fields.hint !== undefined) parts.push(cstring(`H${clean(fields.hint)}`));
  parts.push(Buffer.from([0]));
  return message(BackendType.ERROR_RESPONSE, Buffer.concat(parts));
}

/** The fields of an ErrorResponse or NoticeResponse, by their one-letter codes. */
export function decodeErrorFields(frame: Frame): Map<string, string> {
  const fields = new Map<string, string>();
  const body = frame.body;
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at] as number);
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    fields.set(code, body.toString('utf8', at + 1, end));
    at = end + 1;
  }
  return fields;
}

export function encodeAuthentication(code: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return message(BackendType.AUTHENTICATION, Buffer.concat([int32(code), payload]));
}

export const AUTHENTICATION_OK: Buffer = encodeAuthentication(AuthCode.OK);

/** AuthenticationSASL listing the mechanisms offered. */
export function encodeAuthenticationSasl(mechanisms: readonly string[]): Buffer {
  return encodeAuthentication(AuthCode.SASL, Buffer.concat([...mechanisms.map(cstring), Buffer.from([0])]));
}

export interface BackendKey {
  readonly pid: number;
  readonly secret: number;
}

/** BackendKeyData on the wire: type, length, pid, secret. */
export const BACKEND_KEY_DATA_BYTES = HEADER_BYTES + 8;

export function encodeBackendKeyData(key: BackendKey): Buffer {
  const out = Buffer.allocUnsafe(BACKEND_KEY_DATA_BYTES);
  writeBackendKeyData(out, 0, key);
  return out;
}

/** Writes BackendKeyData into `out` at `at` (a greeting assembled in one buffer). */
export function writeBackendKeyData(out: Buffer, at: number, key: BackendKey): void {
  out[at] = BackendType.BACKEND_KEY_DATA;
  out.writeInt32BE(4 + 8, at + 1);
  out.writeInt32BE(key.pid, at + 5);
  out.writeInt32BE(key.secret, at + 9);
}

export function decodeBackendKeyData(frame: Frame): BackendKey | undefined {
  if (frame.body.length !== 8) return undefined;
  return { pid: frame.body.readInt32BE(0), secret: frame.body.readInt32BE(4) };
}

export function encodeReadyForQuery(status: number): Buffer {
  return message(BackendType.READY_FOR_QUERY, Buffer.from([status]));
}

/** NegotiateProtocolVersion: the newest minor version we speak and the `_pq_.` options we ignored. */
export function encodeNegotiateProtocolVersion(newestMinor: number, unrecognized: readonly string[]): Buffer {
  return message(
    BackendType.NEGOTIATE_PROTOCOL_VERSION,
    Buffer.concat([int32(newestMinor), int32(unrecognized.length), ...unrecognized.map(cstring)]),
  );
}

export interface AuthRequest {
  readonly code: number;
  readonly payload: Buffer;
}

export function decodeAuthRequest(frame: Frame): AuthRequest | undefined {
  if (frame.body.length < 4) return undefined;
  return { code: frame.body.readInt32BE(0), payload: frame.body.subarray(4) };
}

/** The NUL-terminated strings of a list (the SASL mechanism list), without the final empty one. */
export function decodeCStringList(payload: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < payload.length) {
    const end = payload.indexOf(0, at);
    if (end < 0 || end === at) break;
    out.push(payload.toString('utf8', at, end));
    at = end + 1;
  }
  return out;
}
