/**
 * Constant-time comparison of secrets: both sides are hashed to a fixed length first and compared
 * with `timingSafeEqual`, so neither the content nor the length of a stored token can be learned
 * from response timing. Every check hashes the presented token; nothing is remembered between them.
 */
import { hash, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 of `value`. Taken as hex and decoded into a small pooled Buffer: a 'buffer' digest gets a
 * backing store of its own on every call, which costs an authenticated request more in allocation
 * and collection than the hash itself (docs/secrets.md#performance).
 */
function digest(value: string | Uint8Array): Buffer {
  return Buffer.from(hash('sha256', value, 'hex'), 'hex');
}

export function secretEquals(a: string | Uint8Array, b: string | Uint8Array): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Finds which entry a presented token belongs to. Every entry is compared, with no early exit,
 * so the time taken does not depend on which entry (if any) matched.
 */
export class TokenIndex<T> {
  readonly #entries: { readonly hash: Buffer; readonly value: T }[];

  constructor(entries: Iterable<readonly [token: string, value: T]>) {
    this.#entries = [...entries].map(([token, value]) => ({ hash: digest(token), value }));
  }

  get size(): number {
    return this.#entries.length;
  }

  find(presented: string | undefined): T | undefined {
    const hash = digest(presented ?? '');
    let found: T | undefined;
    for (const entry of this.#entries) {
      // Evaluate the comparison for every entry; assign without branching on earlier results.
      const equal = timingSafeEqual(entry.hash, hash);
      if (equal && presented !== undefined) found = entry.value;
    }
    return found;
  }
}
