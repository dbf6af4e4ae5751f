/**
 * Authenticates a local client to a client-mode listener: nothing for trust (loopback only, as
 * config validation ensures), or SCRAM-SHA-256 against the configured password's verifier.
 */
import { encodeAuthentication, encodeAuthenticationSasl } from '../core/pg/backend-messages.js';
import { decodeSaslInitialResponse } from '../core/pg/frontend-messages.js';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { AuthCode, FrontendType } from '../core/pg/protocol-codes.js';
import { SCRAM_SHA_256 } from '../core/pg/scram-primitives.js';
import { ScramServerExchange, type ScramVerifier } from '../core/pg/scram-server.js';
import type { FrameSocket } from './frame-socket.js';

async function readSaslMessage(frames: FrameSocket): Promise<Buffer> {
  const frame = await frames.read();
  if (frame.type !== FrontendType.PASSWORD) {
    throw new PgPeerError('PG_PROTOCOL_VIOLATION', `expected a SASL response, got message type "${String.fromCharCode(frame.type)}"`);
  }
  return frame.body;
}

/** Runs SCRAM-SHA-256 with the client; resolves when it proved the password, throws 28P01 when not. */
export async function scramAuthenticate(frames: FrameSocket, verifier: ScramVerifier, user: string): Promise<void> {
  frames.write(encodeAuthenticationSasl([SCRAM_SHA_256]));
  const initial = decodeSaslInitialResponse(await readSaslMessage(frames));
  if (!initial) throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'malformed SASLInitialResponse');
  if (initial.mechanism !== SCRAM_SHA_256) {
    throw new PgPeerError(
      'PG_PROTOCOL_VIOLATION',
      `SASL mechanism ${initial.mechanism.slice(0, 40)} was not offered (offered: ${SCRAM_SHA_256})`,
    );
  }
  const exchange = new ScramServerExchange(verifier);
  frames.write(encodeAuthentication(AuthCode.SASL_CONTINUE, exchange.serverFirst(initial.data)));
  const serverFinal = exchange.serverFinal(await readSaslMessage(frames), user);
  frames.write(encodeAuthentication(AuthCode.SASL_FINAL, serverFinal));
}
