/**
 * Which token belongs to which service: `auth_token`, or the content of `auth_token_file`, or a
 * token set at run time by incident response (`setToken`). Lookups compare in constant time
 * (`TokenIndex`); two services may never share a token, or a caller could not be told apart.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { TokenIndex } from '../crypto/secret-equal.js';
import { SidekeyError } from '../errors.js';
import { CONFIG_ORIGIN, readTokenFile, type ServiceDefinition, tokenProblem } from './service-definition.js';

interface Override {
  readonly token: string;
  /** The configured token it replaced: a config that changes the token ends the override. */
  readonly replaced: string | undefined;
}

/** What identifies a token file's current content without reading it: inode, size, mtime ("missing" when unreadable). */
function fileSignature(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

const digest = (token: string) => createHash('sha256').update(token).digest('base64');

function where(service: ServiceDefinition, key: string): string {
  return service.origin === CONFIG_ORIGIN ? `services.${service.name}.${key}` : `${service.origin}: services.${service.name}.${key}`;
}

export class ServiceTokens {
  #configured = new Map<string, string>();
  readonly #overrides = new Map<string, Override>();
  #index = new TokenIndex<string>([]);
  /** Token files read by the last load, with their signature then. */
  #files = new Map<string, string>();
  readonly #onError: (message: string) => void;

  constructor(onError: (message: string) => void) {
    this.#onError = onError;
  }

  /**
   * Resolves every service's configured token. With `strict` (start-up), any unreadable token
   * file or shared token is thrown as one CONFIG_INVALID error; otherwise it is reported, the
   * service keeps its previous token if it had one, and the others carry on.
   */
  load(services: Iterable<ServiceDefinition>, strict: boolean): void {
    const problems: string[] = [];
    const configured = new Map<string, string>();
    const owners = new Map<string, string>();
    const files = new Map<string, string>();
    for (const service of services) {
      let token = service.config.auth_token;
      if (token === undefined && service.config.auth_token_file !== undefined) {
        files.set(service.config.auth_token_file, fileSignature(service.config.auth_token_file));
        try {
          token = readTokenFile(service.config.auth_token_file, where(service, 'auth_token_file'), service.fileRoots);
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
          token = this.#configured.get(service.name);
        }
      }
      if (token === undefined) continue;
      const owner = owners.get(digest(token));
      if (owner !== undefined) {
        problems.push(`${where(service, 'auth_token')}: the same token as service "${owner}"; every service needs its own token`);
        continue;
      }
      owners.set(digest(token), service.name);
      configured.set(service.name, token);
    }
    if (strict && problems.length > 0) {
      throw new SidekeyError('CONFIG_INVALID', `service tokens: ${problems.join('; ')}`);
    }
    for (const problem of problems) this.#onError(problem);
    for (const [name, override] of this.#overrides) {
      if (!configured.has(name) || configured.get(name) !== override.replaced) this.#overrides.delete(name);
    }
    this.#configured = configured;
    this.#files = files;
    this.#rebuild();
  }

  /** True when a token file the last load read (or failed to read) has changed since. */
  filesChanged(): boolean {
    for (const [path, signature] of this.#files) if (fileSignature(path) !== signature) return true;
    return false;
  }

  find(presented: string | undefined): string | undefined {
    return this.#index.find(presented);
  }

  /** Replaces a service's token in memory; throws USAGE for a malformed or already used token. */
  set(service: string, token: string): void {
    const problem = tokenProblem(token);
    if (problem) throw new SidekeyError('USAGE', problem);
    const owner = this.#index.find(token);
    if (owner !== undefined && owner !== service)
      throw new SidekeyError('USAGE', 'that token is already in use; generate a new one with sidekey token');
    this.#overrides.set(service, { token, replaced: this.#configured.get(service) });
    this.#rebuild();
  }

  forget(service: string): void {
    this.#overrides.delete(service);
  }

  #rebuild(): void {
    const entries = new Map(this.#configured);
    for (const [name, override] of this.#overrides) entries.set(name, override.token);
    this.#index = new TokenIndex([...entries].map(([name, token]) => [token, name] as const));
  }
}
