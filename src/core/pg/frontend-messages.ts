/** Encoders and decoders for the frontend messages the proxy writes upstream or reads from clients. */

import type { BackendKey } from './backend-messages.js';
import { FrontendType, RequestCode } from './protocol-codes.js';

function untyped(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(8 + body.length, 0);
  out.writeInt32BE(code, 4);
  body.copy(out, 8);
  return out;
}

function typed(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

export const SSL_REQUEST: Buffer = untyped(RequestCode.SSL);
export const TERMINATE: Buffer = typed(FrontendType.TERMINATE, Buffer.alloc(0));

/** StartupMessage for protocol 3.0 with the given parameters, in order. */
export function encodeStartupMessage(params: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of params) parts.push(Buffer.from(`${key}\0${value}\0`, 'utf8'));
  parts.push(Buffer.from([0]));
  return untyped(RequestCode.PROTOCOL_3_0, Buffer.concat(parts));
}

export function encodeCancelRequest(key: BackendKey): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeInt32BE(key.pid, 0);
  body.writeInt32BE(key.secret, 4);
  return untyped(RequestCode.CANCEL, body);
}

/** PasswordMessage: a cleartext password, an IAM token, or an MD5 digest. */
export function encodePasswordMessage(password: string): Buffer {
  return typed(FrontendType.PASSWORD, Buffer.from(`${password}\0`, 'utf8'));
}

export function encodeSaslInitialResponse(mechanism: string, data: Buffer): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeInt32BE(data.length, 0);
  return typed(FrontendType.PASSWORD, Buffer.concat([Buffer.from(`${mechanism}\0`, 'utf8'), length, data]));
}

export function encodeSaslResponse(data: Buffer): Buffer {
  return typed(FrontendType.PASSWORD, data);
}

/** A SASLInitialResponse as sent by a client: the mechanism and its first message. */
export function decodeSaslInitialResponse(body: Buffer): { mechanism: string; data: Buffer } | undefined {
  const end = body.indexOf(0);
  if (end <= 0 || body.length < end + 5) return undefined;
  const mechanism = body.toString('utf8', 0, end);
  const length = body.readInt32BE(end + 1);
  const data = body.subarray(end + 5);
  if (length === -1 && data.length === 0) return { mechanism, data };
  if (length !== data.length) return undefined;
  return { mechanism, data };
}
