/**
 * A test peer for SSM Parameter Store's GetParameter and GetParametersByPath, in its JSON 1.1
 * protocol (`X-Amz-Target: AmazonSSM.GetParameter`), paging by-path answers as the service does
 * (at most MaxResults, 10 by default, and a NextToken), every request's SigV4 signature verified by the independent verifier.
 * A parameter is found by name or ARN, a version by the name's `:N` or `:label` selector (the
 * latest without one), as Parameter Store answers them: a missing parameter is ParameterNotFound,
 * a missing version ParameterVersionNotFound. A SecureString's value is its ciphertext unless
 * WithDecryption is true. `allow` stands in for IAM: a call it refuses is AccessDeniedException.
 * It can throttle (ThrottlingException) or fail (InternalServerError) on demand, and records the
 * calls it answers with the key that signed each.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { replyJson11 } from './json11-reply.js';
import { LoopbackHttpPeer, readBody } from './loopback-http.js';
import { type KnownKey, verifyRequest } from './sigv4-verifier.js';

export const SSM_REGION = 'us-east-1';
const ACCOUNT = '123456789012';

interface Version {
  readonly version: number;
  readonly value: string;
  readonly labels: string[];
  readonly modified: Date;
}

interface Parameter {
  readonly name: string;
  readonly type: 'String' | 'SecureString';
  readonly versions: Version[];
}

export class SsmPeer extends LoopbackHttpPeer {
  readonly #keys: ReadonlyMap<string, KnownKey>;
  readonly #parameters = new Map<string, Parameter>();
  /** GetParameter calls that verified, by Name as sent. */
  readonly calls: string[] = [];
  /** The access key id that signed each of `calls`. */
  readonly signers: string[] = [];
  delayMs = 0;
  failure: 'throttle' | 'internal' | undefined;
  /** IAM's decision for (access key id, parameter name); all allowed by default. */
  allow: (accessKeyId: string, name: string) => boolean = () => true;

  /** `keys` is read at each call, so a live map (StsPeer.knownKeys) lets issued credentials sign. */
  constructor(keys: readonly KnownKey[] | ReadonlyMap<string, KnownKey>) {
    super();
    this.#keys = Array.isArray(keys) ? new Map(keys.map((k) => [k.accessKeyId, k])) : (keys as ReadonlyMap<string, KnownKey>);
  }

  remove(name: string): void {
    this.#parameters.delete(name);
  }

  /** Adds a version (as PutParameter with Overwrite does); returns its number. */
  put(name: string, value: string, type: Parameter['type'] = 'SecureString'): number {
    let parameter = this.#parameters.get(name);
    if (!parameter) {
      parameter = { name, type, versions: [] };
      this.#parameters.set(name, parameter);
    }
    const version = parameter.versions.length + 1;
    parameter.versions.push({ version, value, labels: [], modified: new Date() });
    return version;
  }

  label(name: string, version: number, label: string): void {
    for (const v of this.#parameters.get(name)?.versions ?? []) {
      const at = v.labels.indexOf(label);
      if (at !== -1) v.labels.splice(at, 1);
      if (v.version === version) v.labels.push(label);
    }
  }

  arnOf(name: string): string {
    return `arn:aws:ssm:${SSM_REGION}:${ACCOUNT}:parameter/${name.replace(/^\//, '')}`;
  }

  protected serve(req: IncomingMessage, res: ServerResponse): void {
    void readBody(req).then((body) => this.#answer(req, res, body));
  }

  async #answer(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const verified = verifyRequest(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body },
      { keys: this.#keys, service: 'ssm', region: SSM_REGION },
    );
    if (!verified.ok) return this.#error(res, 400, verified.code, verified.message);
    const target = req.headers['x-amz-target'];
    if (target === 'AmazonSSM.GetParametersByPath') return this.#byPath(res, verified.accessKeyId, body);
    if (target !== 'AmazonSSM.GetParameter')
      return this.#error(res, 400, 'UnknownOperationException', `unknown X-Amz-Target ${String(target)}`);
    const input = JSON.parse(body.toString('utf8') || '{}') as { Name?: string; WithDecryption?: boolean };
    const asked = input.Name ?? '';
    this.calls.push(asked);
    this.signers.push(verified.accessKeyId);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failure === 'throttle') return this.#error(res, 400, 'ThrottlingException', 'Rate exceeded');
    if (this.failure === 'internal') return this.#error(res, 500, 'InternalServerError', 'An internal error occurred');
    const arnPrefix = `arn:aws:ssm:${SSM_REGION}:${ACCOUNT}:parameter`;
    const bare = asked.startsWith(arnPrefix) ? asked.slice(arnPrefix.length) : asked;
    const lastSlash = bare.lastIndexOf('/');
    const colon = bare.indexOf(':', lastSlash + 1);
    const path = colon === -1 ? bare : bare.slice(0, colon);
    const selector = colon === -1 ? undefined : bare.slice(colon + 1);
    const parameter = this.#parameters.get(path) ?? this.#parameters.get(path.replace(/^\//, ''));
    if (!this.allow(verified.accessKeyId, parameter?.name ?? path))
      return this.#error(
        res,
        400,
        'AccessDeniedException',
        `User: ${verified.accessKeyId} is not authorized to perform: ssm:GetParameter on resource: ${this.arnOf(path)}`,
      );
    if (!parameter) return this.#error(res, 400, 'ParameterNotFound', '');
    const version =
      selector === undefined
        ? parameter.versions.at(-1)
        : /^[0-9]+$/.test(selector)
          ? parameter.versions.find((v) => v.version === Number(selector))
          : parameter.versions.find((v) => v.labels.includes(selector));
    if (!version)
      return this.#error(res, 400, 'ParameterVersionNotFound', `Systems Manager could not find version ${selector} of ${path}.`);
    replyJson11(res, 200, { Parameter: this.#shape(parameter, version, input.WithDecryption === true, selector) });
  }

  #shape(parameter: Parameter, version: Version, decrypt: boolean, selector?: string): Record<string, unknown> {
    return {
      ARN: this.arnOf(parameter.name),
      DataType: 'text',
      LastModifiedDate: version.modified.getTime() / 1000,
      Name: parameter.name,
      ...(selector !== undefined ? { Selector: `:${selector}` } : {}),
      Type: parameter.type,
      Value:
        parameter.type === 'SecureString' && !decrypt ? Buffer.from(`kms-ciphertext:${version.version}`).toString('base64') : version.value,
      Version: version.version,
    };
  }

  /** GetParametersByPath: the latest version of each parameter under Path (one level, or all with Recursive), paged. */
  #byPath(res: ServerResponse, accessKeyId: string, body: Buffer) {
    const input = JSON.parse(body.toString('utf8') || '{}') as {
      Path?: string;
      Recursive?: boolean;
      WithDecryption?: boolean;
      MaxResults?: number;
      NextToken?: string;
    };
    const path = input.Path ?? '';
    if (!path.startsWith('/')) return this.#error(res, 400, 'ValidationException', 'The parameter path must begin with /');
    this.calls.push(`path:${path}`);
    this.signers.push(accessKeyId);
    if (this.failure === 'throttle') return this.#error(res, 400, 'ThrottlingException', 'Rate exceeded');
    if (!this.allow(accessKeyId, path))
      return this.#error(res, 400, 'AccessDeniedException', `User: ${accessKeyId} is not authorized to perform: ssm:GetParametersByPath`);
    const base = path.endsWith('/') ? path : `${path}/`;
    const under = [...this.#parameters.values()]
      .filter((p) => p.name.startsWith(base) && (input.Recursive === true || !p.name.slice(base.length).includes('/')))
      .filter((p) => this.allow(accessKeyId, p.name))
      .sort((a, b) => a.name.localeCompare(b.name));
    const start = input.NextToken ? Number(input.NextToken) : 0;
    const size = Math.min(input.MaxResults ?? 10, 10);
    const page = under.slice(start, start + size);
    replyJson11(res, 200, {
      Parameters: page.map((p) => this.#shape(p, p.versions.at(-1) as Version, input.WithDecryption === true)),
      ...(start + size < under.length ? { NextToken: String(start + size) } : {}),
    });
  }

  #error(res: ServerResponse, status: number, type: string, message: string): void {
    replyJson11(res, status, { __type: type, ...(message ? { message } : {}) }, type);
  }
}

export async function startSsmPeer(keys: readonly KnownKey[] | ReadonlyMap<string, KnownKey>): Promise<SsmPeer> {
  const peer = new SsmPeer(keys);
  await peer.listen();
  return peer;
}
