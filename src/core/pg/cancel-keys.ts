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
const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomAt = RANDOM_POOL_BYTES;

/** The next 4 random bytes as an int32; handed-out bytes do not stay in the pool. */
function randomInt32(): number {
  if (randomAt + 4 > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  const value = randomPool.readInt32BE(randomAt);
  randomPool.fill(0, randomAt, randomAt + 4);
  randomAt += 4;
  return value;
}

export interface CancelRegistration {
  readonly key: BackendKey;
  /** Forget the key (session over); a later CancelRequest with it is ignored. */
  release(): void;
}

/** One minted key and its route: the registration is its own key (no closure or key object per session). */
class Registration<T> implements CancelRegistration, BackendKey {
  readonly pid: number;
  readonly secret: number;
  readonly route: T;
  readonly #registry: CancelKeyRegistry<T>;

  constructor(registry: CancelKeyRegistry<T>, pid: number, secret: number, route: T) {
    this.#registry = registry;
    this.pid = pid;
    this.secret = secret;
    this.route = route;
  }

  get key(): BackendKey {
    return this;
  }

  release(): void {
    this.#registry.forget(this);
  }
}

/** Scratch space for the constant-time comparison (the proxy is single-threaded). */
const known = Buffer.alloc(4);
const presented = Buffer.alloc(4);

export class CancelKeyRegistry<T> {
  readonly #byPid = new Map<number, Registration<T>>();

  get size(): number {
    return this.#byPid.size;
  }

  register(route: T): CancelRegistration {
    for (let attempt = 0; attempt < MAX_MINT_ATTEMPTS; attempt++) {
      const pid = randomInt32() & 0x7fffffff;
      const secret = randomInt32();
      if (pid === 0 || this.#byPid.has(pid)) continue;
      const entry = new Registration(this, pid, secret, route);
      this.#byPid.set(pid, entry);
      return entry;
    }
    throw new Error('could not mint a unique cancel key');
  }

  /** Forgets a registration (if the key still belongs to it). */
  forget(entry: CancelRegistration): void {
    if (this.#byPid.get(entry.key.pid) === entry) this.#byPid.delete(entry.key.pid);
  }

  /** The route for a presented key, or undefined when the key is unknown or the secret is wrong. */
  lookup(key: BackendKey): T | undefined {
    const entry = this.#byPid.get(key.pid);
    // Compare even when the pid is unknown, so timing does not tell which pids exist.
    known.writeInt32BE(entry?.secret ?? 0, 0);
    presented.writeInt32BE(key.secret | 0, 0);
    const equal = timingSafeEqual(known, presented);
    known.fill(0);
    presented.fill(0);
    return entry && equal ? entry.route : undefined;
  }
}
