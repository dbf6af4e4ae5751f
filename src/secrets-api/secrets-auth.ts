/**
 * Bearer-token authentication and authorization for the secrets API. Tokens are found in
 * constant time (every configured token is compared); each token acts inside one application,
 * with one role, on names matching its patterns.
 */
import type { SecretsTokenConfig } from '../core/config/sections/secrets-section.js';
import { MAX_TOKEN_LENGTH } from '../core/config/validators.js';
import { TokenIndex } from '../core/crypto/secret-equal.js';
import { SidekeyError } from '../core/errors.js';
import { matchesAny } from '../core/secrets/name-pattern.js';
import { OPERATION_ROLES, type Operation } from './secrets-routes.js';

export interface Caller {
  readonly id: string;
  readonly role: 'admin' | 'reader';
  readonly application: string;
  readonly names: readonly string[];
}

export function mayTouch(caller: Caller, name: string): boolean {
  return matchesAny(caller.names, name);
}

export class SecretsAuth {
  readonly #index: TokenIndex<Caller>;

  constructor(tokens: readonly SecretsTokenConfig[]) {
    this.#index = new TokenIndex(
      tokens.map((t) => [t.token, { id: t.id, role: t.role, application: t.application, names: t.names }] as const),
    );
  }

  /**
   * The caller a request's bearer token (its Authorization header) belongs to; UNAUTHORIZED
   * otherwise.
   */
  authenticate(header: string | undefined): Caller {
    if (header === undefined) throw new SidekeyError('UNAUTHORIZED', 'missing Authorization header: send Authorization: Bearer TOKEN');
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    if (!match || (match[1] as string).length > MAX_TOKEN_LENGTH) {
      throw new SidekeyError('UNAUTHORIZED', 'malformed Authorization header: expected Bearer followed by one token');
    }
    const caller = this.#index.find(match[1]);
    if (!caller) throw new SidekeyError('UNAUTHORIZED', 'the bearer token is not valid for this secrets API');
    return caller;
  }

  /** FORBIDDEN unless the caller's role may run `operation` on `name` (when there is one). */
  authorize(caller: Caller, operation: Operation, name: string | undefined): void {
    const roles = OPERATION_ROLES[operation];
    if (!roles.includes(caller.role)) {
      throw new SidekeyError('FORBIDDEN', `token "${caller.id}" has role ${caller.role}; ${operation} needs role ${roles.join(' or ')}`);
    }
    if (name !== undefined && !mayTouch(caller, name)) {
      throw new SidekeyError('FORBIDDEN', `token "${caller.id}" may not touch secret "${name}" (its names: ${caller.names.join(', ')})`);
    }
  }
}
