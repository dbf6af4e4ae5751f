/**
 * Cancel routing: every client gets a BackendKeyData minted by the proxy, never the upstream's
 * real one, and a CancelRequest carrying a minted key is routed to the session it belongs to
 * (which knows the real key and the upstream). Secrets are compared in constant time.
 */
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import type { BackendKey } from './backend-messages.js';

/** Tries to find an unused process id before giving up (the space has 2^31 values). */
const MAX_MINT_ATTEMPTS = 32;
/** Random bytes drawn from the CSPRNG at once and handed out 8 per key (one call per 512 sessions, not per session). */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomAt = 0;

function random8(): Buffer {
  if (randomAt + 8 > randomPool.length) {
    randomPool = randomFillSync(Buffer.allocUnsafe(RANDOM_POOL_BYTES));
    randomAt = 0;
  }
  const out = Buffer.from(randomPool.subarray(randomAt, randomAt + 8));
  randomPool.fill(0, randomAt, randomAt + 8); // handed-out bytes do not stay in the pool
  randomAt += 8;
  return out;
}

export interface CancelRegistration {
  readonly key: BackendKey;
  /** Forget the key (session over); a later CancelRequest with it is ignored. */
  release(): void;
}

export class CancelKeyRegistry<T> {
  readonly #byPid = new Map<number, { secret: Buffer; route: T }>();

  get size(): number {
    return this.#byPid.size;
  }

  register(route: T): CancelRegistration {
    for (let attempt = 0; attempt < MAX_MINT_ATTEMPTS; attempt++) {
      const bytes = random8();
      const pid = bytes.readInt32BE(0) & 0x7fffffff;
      if (pid === 0 || this.#byPid.has(pid)) continue;
      const secret = bytes.subarray(4, 8);
      const entry = { secret, route };
      this.#byPid.set(pid, entry);
      return {
        key: { pid, secret: secret.readInt32BE(0) },
        release: () => {
          if (this.#byPid.get(pid) === entry) this.#byPid.delete(pid);
        },
      };
    }
    throw new Error('could not mint a unique cancel key');
  }

  /** The route for a presented key, or undefined when the key is unknown or the secret is wrong. */
  lookup(key: BackendKey): T | undefined {
    const entry = this.#byPid.get(key.pid);
    const presented = Buffer.allocUnsafe(4);
    presented.writeInt32BE(key.secret, 0);
    // Compare even when the pid is unknown, so timing does not tell which pids exist.
    const equal = timingSafeEqual(entry?.secret ?? Buffer.alloc(4), presented);
    return entry && equal ? entry.route : undefined;
  }
}
