/** Decoding of the first packet a client sends: SSLRequest, GSSENCRequest, CancelRequest or StartupMessage. */
import type { BackendKey } from './backend-messages.js';
import type { Frame } from './message-reader.js';
import { MAX_STARTUP_PARAMETERS } from './pg-limits.js';
import { PgPeerError } from './pg-peer-error.js';
import { PROTOCOL_MAJOR_3, RequestCode } from './protocol-codes.js';

export type StartupPacket =
  | { readonly kind: 'ssl' }
  | { readonly kind: 'gssenc' }
  | { readonly kind: 'cancel'; readonly key: BackendKey }
  | {
      readonly kind: 'startup';
      readonly minorVersion: number;
      /** Parameters in the order sent; `user` is always present. */
      readonly params: ReadonlyMap<string, string>;
    };

const CANCEL_BODY_BYTES = 12; // code + pid + secret
const SIMPLE_REQUEST_BODY_BYTES = 4; // code only

/** Decodes a first packet; throws a PgPeerError (08P01, 0A000 or 28000) when it is not acceptable. */
export function decodeStartupPacket(frame: Frame): StartupPacket {
  const body = frame.body;
  const code = body.readInt32BE(0);
  switch (code) {
    case RequestCode.SSL:
    case RequestCode.GSSENC:
      if (body.length !== SIMPLE_REQUEST_BODY_BYTES) {
        throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'invalid length of SSLRequest/GSSENCRequest packet');
      }
      return { kind: code === RequestCode.SSL ? 'ssl' : 'gssenc' };
    case RequestCode.CANCEL:
      if (body.length !== CANCEL_BODY_BYTES) throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'invalid length of CancelRequest packet');
      return { kind: 'cancel', key: { pid: body.readInt32BE(4), secret: body.readInt32BE(8) } };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== PROTOCOL_MAJOR_3) {
    throw new PgPeerError('PG_UNSUPPORTED', `unsupported frontend protocol ${major}.${minor}: the proxy speaks 3.0`, {
      hint: 'use a client that speaks protocol version 3 (PostgreSQL 7.4 or later)',
    });
  }
  return { kind: 'startup', minorVersion: minor, params: decodeParams(body.subarray(4)) };
}

function decodeParams(data: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let at = 0;
  for (;;) {
    if (at >= data.length)
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'invalid startup packet layout: expected terminator as last byte');
    if (data[at] === 0) {
      if (at !== data.length - 1)
        throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'invalid startup packet layout: data after the terminator');
      break;
    }
    const keyEnd = data.indexOf(0, at);
    const valueEnd = keyEnd < 0 ? -1 : data.indexOf(0, keyEnd + 1);
    if (valueEnd < 0) throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'invalid startup packet layout: a parameter is not NUL-terminated');
    const key = data.toString('utf8', at, keyEnd);
    if (params.has(key)) throw new PgPeerError('PG_PROTOCOL_VIOLATION', `startup parameter "${key.slice(0, 63)}" appears twice`);
    params.set(key, data.toString('utf8', keyEnd + 1, valueEnd));
    if (params.size > MAX_STARTUP_PARAMETERS) {
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', `more than ${MAX_STARTUP_PARAMETERS} startup parameters`);
    }
    at = valueEnd + 1;
  }
  const user = params.get('user');
  if (user === undefined || user === '') {
    throw new PgPeerError('PG_AUTH_REFUSED', 'no PostgreSQL user name specified in startup packet', {
      hint: 'pass a user name (psql -U NAME, or user= in the connection string)',
    });
  }
  return params;
}
