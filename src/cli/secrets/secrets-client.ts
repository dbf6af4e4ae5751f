/**
 * What the `sidekey secrets` commands talk to: the configured store directly (DirectClient, the
 * operator's path: it needs the store and keyring credentials) or a running daemon's REST API
 * (HttpClient, with a bearer token: the path for applications and CI).
 */
import { ErrorCodes, type ErrorKind, SidekeyError } from '../../core/errors.js';
import { type HistoryEntry, historyEntry } from '../../core/secrets/history-entry.js';
import type { GeneratorSpec } from '../../core/secrets/payload-generator.js';
import type { SecretService, SecretValue, WriteResult } from '../../core/secrets/secret-service.js';
import { waitForChange } from '../../core/secrets/watch-secret.js';

export interface CasOption {
  readonly expectedSerial?: number;
}

export interface SecretsClient {
  create(name: string, payload: string, options: CasOption): Promise<WriteResult>;
  fetch(name: string, serial: number | undefined): Promise<SecretValue>;
  /** The latest version once it is not serial `known`; undefined when `waitSeconds` pass first. Throws as fetch does. */
  watch(name: string, known: number, waitSeconds: number, signal?: AbortSignal): Promise<SecretValue | undefined>;
  revoke(name: string, serial: number): Promise<WriteResult>;
  list(): Promise<string[]>;
  history(name: string): Promise<HistoryEntry[]>;
  restore(name: string, serial: number, options: CasOption): Promise<WriteResult & { restored_from: number }>;
  rotate(name: string, source: { generate: GeneratorSpec } | { payload: string }, options: CasOption): Promise<WriteResult>;
  delete(name: string): Promise<{ name: string; deleted: number }>;
  close(): Promise<void>;
}

const cas = (options: CasOption) => (options.expectedSerial !== undefined ? { expectedSerial: options.expectedSerial } : {});

export class DirectClient implements SecretsClient {
  constructor(
    readonly service: SecretService,
    readonly app: string,
    readonly actor: string,
  ) {}

  create(name: string, payload: string, options: CasOption) {
    return this.service.create(this.app, name, payload, { actor: this.actor, ...cas(options) });
  }
  fetch(name: string, serial: number | undefined) {
    return this.service.fetch(this.app, name, serial, this.actor);
  }
  async watch(name: string, known: number, waitSeconds: number, signal?: AbortSignal) {
    if (!(await waitForChange(this.service, this.app, name, known, waitSeconds * 1000, signal))) return undefined;
    return this.service.fetch(this.app, name, undefined, this.actor);
  }
  revoke(name: string, serial: number) {
    return this.service.revoke(this.app, name, serial, this.actor);
  }
  async list() {
    return (await this.service.list(this.app, this.actor)).names;
  }
  async history(name: string) {
    const { versions } = await this.service.history(this.app, name, this.actor);
    return versions.map(historyEntry);
  }
  async restore(name: string, serial: number, options: CasOption) {
    const r = await this.service.restore(this.app, name, serial, { actor: this.actor, ...cas(options) });
    return { name: r.name, serial: r.serial, active: r.active, restored_from: r.restoredFrom };
  }
  rotate(name: string, source: { generate: GeneratorSpec } | { payload: string }, options: CasOption) {
    return this.service.rotate(this.app, name, source, { actor: this.actor, ...cas(options) });
  }
  delete(name: string) {
    return this.service.delete(this.app, name, this.actor);
  }
  close() {
    return this.service.close();
  }
}

/** The error kind whose code a daemon answered with, so the CLI exits as if it ran locally. */
function kindOf(code: unknown): ErrorKind {
  const found = (Object.keys(ErrorCodes) as ErrorKind[]).find((k) => ErrorCodes[k].code === code);
  return found && ErrorCodes[found].expose ? found : 'UPSTREAM_FAILED';
}

export class HttpClient implements SecretsClient {
  readonly #base: string;
  readonly #token: string;

  constructor(endpoint: string, token: string) {
    this.#base = endpoint.replace(/\/+$/, '');
    this.#token = token;
  }

  async #call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new SidekeyError(
        'UPSTREAM_FAILED',
        `cannot reach the secrets API at ${this.#base} (${(error as Error).cause ?? (error as Error).message})`,
        {
          cause: error,
        },
      );
    }
    if (response.status === 304) return undefined as T;
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new SidekeyError(
        'UPSTREAM_FAILED',
        `the secrets API at ${this.#base} answered ${response.status} with a body that is not JSON`,
      );
    }
    if (!response.ok) {
      throw new SidekeyError(
        kindOf(parsed.Code),
        `${String(parsed.Message ?? 'no message')} (HTTP ${response.status} ${String(parsed.Code ?? '')})`,
      );
    }
    return parsed as T;
  }

  create(name: string, payload: string, options: CasOption) {
    return this.#call<WriteResult>('POST', `/secrets/${name}`, {
      payload,
      ...(options.expectedSerial !== undefined ? { expected_serial: options.expectedSerial } : {}),
    });
  }
  fetch(name: string, serial: number | undefined) {
    return this.#call<SecretValue>('GET', `/secrets/${name}${serial === undefined ? '' : `/${serial}`}`);
  }
  watch(name: string, known: number, waitSeconds: number, signal?: AbortSignal) {
    return this.#call<SecretValue | undefined>(
      'GET',
      `/secrets/${name}?wait=${waitSeconds}`,
      undefined,
      { 'if-none-match': `"${known}"` },
      signal,
    );
  }
  revoke(name: string, serial: number) {
    return this.#call<WriteResult>('POST', `/revoke/${name}/${serial}`);
  }
  async list() {
    return (await this.#call<{ names: string[] }>('GET', '/secrets')).names;
  }
  async history(name: string) {
    return (await this.#call<{ versions: HistoryEntry[] }>('GET', `/history/${name}`)).versions;
  }
  restore(name: string, serial: number, options: CasOption) {
    const body = options.expectedSerial !== undefined ? { expected_serial: options.expectedSerial } : undefined;
    return this.#call<WriteResult & { restored_from: number }>('POST', `/restore/${name}/${serial}`, body);
  }
  rotate(name: string, source: { generate: GeneratorSpec } | { payload: string }, options: CasOption) {
    const body = {
      ...('generate' in source ? source.generate : source),
      ...(options.expectedSerial !== undefined ? { expected_serial: options.expectedSerial } : {}),
    };
    return this.#call<WriteResult>('POST', `/rotate/${name}`, body);
  }
  delete(name: string) {
    return this.#call<{ name: string; deleted: number }>('DELETE', `/secrets/${name}?confirm=${name}`);
  }
  async close() {}
}
