/**
 * IMDSv2 tokens issued through the guard, and to whom: the source address and the service it
 * mapped to when the token was issued. A token presented later from another address, or after the
 * address came to map to another service, is not honoured for per-caller credentials: this is what
 * defeats source-IP reuse (a new container on an old container's address inherits nothing).
 * Only a hash of each token is held.
 */
import { createHash } from 'node:crypto';

/** Most tokens tracked at once; the oldest are forgotten first (their holders just fetch a new one). */
export const MAX_TRACKED_TOKENS = 65_536;
/**
 * Most tokens one source address holds: past it that address's own oldest is forgotten, so one
 * caller asking for tokens in a loop cannot push out the bindings of the others.
 */
export const MAX_TOKENS_PER_CALLER = 64;

export interface TokenBinding {
  readonly address: string;
  /** The service the address mapped to at issue time; undefined for unmapped callers. */
  readonly service: string | undefined;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

const hash = (token: string) => createHash('sha256').update(token).digest('base64');

export class TokenBindings {
  /** Insertion-ordered, so the first key is the oldest. */
  readonly #bindings = new Map<string, TokenBinding>();
  /** Token hashes per address, oldest first. */
  readonly #byAddress = new Map<string, string[]>();
  readonly #now: () => number;

  readonly #changed: (() => void) | undefined;

  /** `changed` is told after every new binding (to persist them). */
  constructor(now: () => number = Date.now, changed?: () => void) {
    this.#now = now;
    this.#changed = changed;
  }

  record(token: string, address: string, service: string | undefined, ttlSeconds: number): void {
    this.#add(hash(token), { address, service, expiresAt: this.#now() + ttlSeconds * 1000 });
    this.#changed?.();
  }

  /** Bindings that have not expired, by token hash (no token is ever held), oldest first. */
  entries(): [string, TokenBinding][] {
    const now = this.#now();
    return [...this.#bindings].filter(([, binding]) => binding.expiresAt > now);
  }

  /** Puts back a binding saved by `entries` (after a restart); an expired one is ignored. */
  restore(tokenHash: string, binding: TokenBinding): void {
    if (binding.expiresAt > this.#now()) this.#add(tokenHash, binding);
  }

  #add(key: string, binding: TokenBinding): void {
    const { address } = binding;
    this.#forget(key);
    const own = this.#byAddress.get(address) ?? [];
    if (own.length >= MAX_TOKENS_PER_CALLER) this.#forget(own[0] as string);
    if (this.#bindings.size >= MAX_TRACKED_TOKENS) {
      const oldest = this.#bindings.keys().next();
      if (!oldest.done) this.#forget(oldest.value);
    }
    this.#bindings.set(key, binding);
    const list = this.#byAddress.get(address);
    if (list) list.push(key);
    else this.#byAddress.set(address, [key]);
  }

  #forget(key: string): void {
    const binding = this.#bindings.get(key);
    if (!binding) return;
    this.#bindings.delete(key);
    const list = this.#byAddress.get(binding.address);
    if (!list) return;
    const at = list.indexOf(key);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#byAddress.delete(binding.address);
  }

  /** The binding of a token issued through the guard and not yet expired. */
  lookup(token: string): TokenBinding | undefined {
    const key = hash(token);
    const binding = this.#bindings.get(key);
    if (binding && binding.expiresAt <= this.#now()) {
      this.#forget(key);
      return undefined;
    }
    return binding;
  }

  get size(): number {
    return this.#bindings.size;
  }

  clear(): void {
    this.#bindings.clear();
    this.#byAddress.clear();
  }
}
