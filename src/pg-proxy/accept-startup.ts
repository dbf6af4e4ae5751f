/**
 * The first phase of every incoming connection: reads the first packet(s), answers SSLRequest
 * (upgrading to TLS when the listener has a certificate) and GSSENCRequest ('N'), and ends with
 * either a StartupMessage or a CancelRequest. Everything else is a PgPeerError.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { BackendKey } from '../core/pg/backend-messages.js';
import { MessageReader } from '../core/pg/message-reader.js';
import { MAX_LOGIN_MESSAGE_BYTES, MAX_STARTUP_PACKET_BYTES } from '../core/pg/pg-limits.js';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { SSL_ACCEPT, SSL_REFUSE } from '../core/pg/protocol-codes.js';
import { decodeStartupPacket } from '../core/pg/startup-packet.js';
import { FrameSocket } from './frame-socket.js';

export type AcceptedStartup =
  | { readonly kind: 'cancel'; readonly key: BackendKey; readonly frames: FrameSocket }
  | {
      readonly kind: 'startup';
      /** Reads typed messages from here on, over TLS when negotiated. */
      readonly frames: FrameSocket;
      readonly params: ReadonlyMap<string, string>;
      readonly minorVersion: number;
      readonly tls: boolean;
    };

export interface AcceptOptions {
  /** Offer TLS (answer SSLRequest with 'S'). */
  readonly tls: SecureContext | undefined;
  /** Refuse a StartupMessage that did not come over TLS. */
  readonly requireTls: boolean;
  /** Called with each FrameSocket in use, so a phase's time limit can abort the current one. */
  readonly onFrames: (frames: FrameSocket) => void;
}

const ignore = () => {};

/** At most GSSENCRequest then SSLRequest precede the StartupMessage. */
const MAX_NEGOTIATION_PACKETS = 2;

function startupReader(): MessageReader {
  return new MessageReader({ maxMessageBytes: MAX_STARTUP_PACKET_BYTES, startup: true, peer: 'client' });
}

function upgrade(socket: Socket, context: SecureContext): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
    const onError = (error?: Error) => {
      secure.destroy();
      reject(new PgPeerError('PG_PROTOCOL_VIOLATION', 'TLS handshake with the client failed', { cause: error }));
    };
    secure.once('secure', () => {
      secure.off('error', onError);
      secure.off('close', onError);
      // As on every accepted socket: errors are acted on where the socket is read (a 'close' follows each); never crash on one.
      secure.on('error', ignore);
      resolve(secure);
    });
    secure.once('error', onError);
    secure.once('close', onError);
  });
}

export async function acceptStartup(socket: Socket, options: AcceptOptions): Promise<AcceptedStartup> {
  let frames = new FrameSocket(socket, startupReader(), 'client');
  options.onFrames(frames);
  let tls = false;
  let gssencAnswered = false;
  for (let packets = 0; ; packets++) {
    const packet = decodeStartupPacket(await frames.read());
    if (packet.kind === 'cancel') return { kind: 'cancel', key: packet.key, frames };
    if (packet.kind === 'startup') {
      if (options.requireTls && !tls) {
        throw new PgPeerError('PG_AUTH_REFUSED', 'this listener accepts TLS connections only', {
          hint: 'connect with sslmode=require or stronger (a client proxy sets via_tls)',
        });
      }
      // Login messages from here on may be larger than a startup packet (SCRAM), but stay bounded.
      frames.reader.expectTyped(MAX_LOGIN_MESSAGE_BYTES);
      return { kind: 'startup', frames, params: packet.params, minorVersion: packet.minorVersion, tls };
    }
    if (packets >= MAX_NEGOTIATION_PACKETS || tls || (packet.kind === 'gssenc' && gssencAnswered)) {
      throw new PgPeerError(
        'PG_PROTOCOL_VIOLATION',
        `unexpected ${packet.kind === 'ssl' ? 'SSLRequest' : 'GSSENCRequest'} at this point of the startup`,
      );
    }
    if (packet.kind === 'gssenc') {
      gssencAnswered = true;
      frames.write(Buffer.from([SSL_REFUSE]));
      continue;
    }
    if (!options.tls) {
      frames.write(Buffer.from([SSL_REFUSE]));
      continue;
    }
    // Anything sent before the handshake was not encrypted: PostgreSQL refuses it too (CVE-2021-23214).
    if (frames.reader.buffered > 0) throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'received unencrypted data after SSL request');
    frames.write(Buffer.from([SSL_ACCEPT]));
    socket.pause();
    frames.detach();
    const secure = await upgrade(socket, options.tls);
    tls = true;
    frames = new FrameSocket(secure, startupReader(), 'client');
    options.onFrames(frames);
  }
}
