/**
 * Reads values through a running daemon's agent API, as the applications it serves do: a name is a
 * Secrets Manager secret (name or ARN), or a Parameter Store parameter when it starts with `ssm:`
 * or is an SSM ARN (read decrypted). A watch polls the agent every AGENT_POLL_SECONDS; the agent
 * answers from its cache, so a rotation is seen once the agent's cache has it (refresh-ahead,
 * within its TTL) and a poll costs AWS a call at most once per refresh.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ErrorKind, SidekeyError } from '../../core/errors.js';
import type { ReadValue, ValueReader } from './value-reader.js';

/** How often a watch through the agent reads its cache again, in seconds. */
export const AGENT_POLL_SECONDS = 5;
const SSM_PREFIX = 'ssm:';
/** The longest plain-text refusal quoted in an error (the agent's are one short line). */
const MAX_REFUSAL_CHARS = 200;

/** Where a name is read: the agent route and the query for it. `ssm:/PATH/` (a trailing slash) is every parameter under it. */
export function agentTarget(name: string): { kind: 'secret' | 'parameter' | 'path'; path: string } {
  if (name.startsWith(SSM_PREFIX) || /^arn:[^:]+:ssm:/.test(name)) {
    const parameter = name.startsWith(SSM_PREFIX) ? name.slice(SSM_PREFIX.length) : name;
    if (parameter === '') throw new SidekeyError('USAGE', 'ssm: needs a parameter name after it, such as ssm:/prod/web/db');
    if (parameter.startsWith('/') && parameter.endsWith('/'))
      return {
        kind: 'path',
        path: `/systemsmanager/parameters/get-by-path?path=${encodeURIComponent(parameter)}&recursive=true&withDecryption=true`,
      };
    return { kind: 'parameter', path: `/systemsmanager/parameters/get?name=${encodeURIComponent(parameter)}&withDecryption=true` };
  }
  if (name === '') throw new SidekeyError('USAGE', 'a secret name is empty');
  return { kind: 'secret', path: `/secretsmanager/get?secretId=${encodeURIComponent(name)}` };
}

function kindOf(status: number, type: string): ErrorKind {
  if (status === 403) return 'UNAUTHORIZED';
  if (type === 'AccessDeniedException') return 'FORBIDDEN';
  if (type === 'ResourceNotFoundException' || type === 'ParameterNotFound' || type === 'ParameterVersionNotFound')
    return 'SECRET_NOT_FOUND';
  return 'UPSTREAM_FAILED';
}

export class AgentReader implements ValueReader {
  readonly #base: string;
  readonly #token: string;

  constructor(base: string, token: string) {
    this.#base = base.replace(/\/+$/, '');
    this.#token = token;
  }

  async read(name: string, serial?: number): Promise<ReadValue> {
    if (serial !== undefined)
      throw new SidekeyError('USAGE', `${name}: a serial is sidekey's own; pin a version in the agent's terms instead`);
    const { kind, path } = agentTarget(name);
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, { headers: { 'x-aws-parameters-secrets-token': this.#token } });
    } catch (error) {
      throw new SidekeyError(
        'UPSTREAM_FAILED',
        `cannot reach the agent API at ${this.#base} (${(error as Error).cause ?? (error as Error).message})`,
        { cause: error },
      );
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // The agent's plain-text refusals (Bad Token, Forwarded, Not found, a query it cannot read).
    }
    if (!response.ok) {
      const type = typeof body.__type === 'string' ? body.__type : text.slice(0, MAX_REFUSAL_CHARS);
      const message = typeof body.message === 'string' ? `: ${body.message}` : '';
      throw new SidekeyError(kindOf(response.status, type), `the agent API answered ${response.status} for ${name} (${type}${message})`);
    }
    if (kind === 'path') {
      // Every parameter under the path, by its name below the path: one JSON object, versioned as a whole.
      const base = name.slice(name.indexOf('/'));
      const parameters = (Array.isArray(body.Parameters) ? body.Parameters : []) as { Name?: string; Value?: string; Version?: number }[];
      const values = Object.fromEntries(parameters.map((p) => [String(p.Name).slice(base.length), String(p.Value)]));
      return { payload: JSON.stringify(values), version: parameters.map((p) => `${p.Name}:${p.Version}`).join(',') };
    }
    if (kind === 'parameter') {
      const parameter = (body.Parameter ?? {}) as { Value?: unknown; Version?: unknown };
      if (typeof parameter.Value !== 'string')
        throw new SidekeyError('UPSTREAM_FAILED', `the agent API's answer for ${name} has no Parameter.Value`);
      return { payload: parameter.Value, version: String(parameter.Version) };
    }
    const payload = typeof body.SecretString === 'string' ? body.SecretString : body.SecretBinary;
    if (typeof payload !== 'string') throw new SidekeyError('UPSTREAM_FAILED', `the agent API's answer for ${name} has no SecretString`);
    return { payload, version: String(body.VersionId) };
  }

  async watch(name: string, version: string, waitSeconds: number, signal: AbortSignal): Promise<ReadValue | undefined> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const value = await this.read(name);
      if (value.version !== version) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) return undefined;
      await sleep(Math.min(AGENT_POLL_SECONDS * 1000, remaining), undefined, { signal }).catch(() => {});
    }
  }
}
