/**
 * Delivers a CancelRequest to the upstream a minted key belongs to, with the real key, over the
 * same TLS mode as the session (the key is a secret, and RDS may insist on TLS). PostgreSQL never
 * answers a CancelRequest; it closes the connection.
 */
import { encodeCancelRequest } from '../core/pg/frontend-messages.js';
import { CANCEL_FORWARD_TIMEOUT_MS } from '../core/pg/pg-limits.js';
import type { CancelRoute } from './session-hub.js';
import { openUpstream } from './upstream-endpoint.js';

export async function forwardCancel(route: CancelRoute): Promise<void> {
  const signal = AbortSignal.timeout(CANCEL_FORWARD_TIMEOUT_MS);
  const frames = await openUpstream(route.endpoint, signal);
  const socket = frames.socket;
  frames.detach();
  await new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => socket.destroy();
    socket.once('close', done);
    socket.on('error', () => {});
    signal.addEventListener('abort', onAbort, { once: true });
    socket.resume();
    socket.end(encodeCancelRequest(route.key));
  });
}
