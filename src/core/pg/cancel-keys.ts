/**
 * Cancel routing: a client is told its backend's real process id (so `pg_backend_pid()`, the
 * sender pid of its own NOTIFYs and `pg_stat_activity` agree with what its driver holds) and a
 * secret key minted by the proxy, never the upstream's. A CancelRequest is routed by (pid, minted
 * secret) to the session it was given to, which knows the real secret and the upstream; any other
 * secret is refused. A pooled backend that passes to the next client keeps its pid and gets a new
 * secret, and the earlier client's registration is released, so its key reaches nothing. Sessions
 * on different servers can share a pid, so a pid holds a list. Secrets are compared in constant time.
 */
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import type { BackendKey } from './backend-messages.js';

/** Tries to draw a secret no other session with the same pid holds before giving up (2^32 values). */
const MAX_MINT_ATTEMPTS = 32;
/** Random bytes drawn from the CSPRNG at once and handed out 4 per key, the secret (one call per 1,024 sessions, not per session). */
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

function sameSecret(a: number, b: number): boolean {
  known.writeInt32BE(a | 0, 0);
  presented.writeInt32BE(b | 0, 0);
  const equal = timingSafeEqual(known, presented);
  known.fill(0);
  presented.fill(0);
  return equal;
}

export class CancelKeyRegistry<T> {
  readonly #byPid = new Map<number, Registration<T>[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** A minted key for a session whose backend has this real process id. */
  register(pid: number, route: T): CancelRegistration {
    const sharing = this.#byPid.get(pid) ?? [];
    for (let attempt = 0; attempt < MAX_MINT_ATTEMPTS; attempt++) {
      const secret = randomInt32();
      if (sharing.some((entry) => entry.secret === secret)) continue;
      const entry = new Registration(this, pid, secret, route);
      sharing.push(entry);
      this.#byPid.set(pid, sharing);
      this.#size++;
      return entry;
    }
    throw new Error('could not mint a unique cancel key');
  }

  /** Forgets a registration (once; a second release does nothing). */
  forget(entry: CancelRegistration): void {
    const sharing = this.#byPid.get(entry.key.pid);
    const at = sharing?.indexOf(entry as Registration<T>) ?? -1;
    if (!sharing || at < 0) return;
    sharing.splice(at, 1);
    this.#size--;
    if (sharing.length === 0) this.#byPid.delete(entry.key.pid);
  }

  /** The route for a presented key, or undefined when no session holds that pid with that secret. */
  lookup(key: BackendKey): T | undefined {
    const sharing = this.#byPid.get(key.pid);
    // Compare even when the pid is unknown, so timing does not tell which pids have sessions.
    if (!sharing) {
      sameSecret(0, key.secret);
      return undefined;
    }
    let found: Registration<T> | undefined;
    for (const entry of sharing) if (sameSecret(entry.secret, key.secret)) found = entry;
    return found?.route;
  }
}
