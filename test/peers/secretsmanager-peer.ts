/**
 * A test peer for AWS Secrets Manager's GetSecretValue, in its JSON 1.1 protocol (`X-Amz-Target:
 * secretsmanager.GetSecretValue`), every request's SigV4 signature verified by the independent
 * verifier. Secrets are looked up by name or ARN, a version by VersionId or VersionStage
 * (AWSCURRENT when neither is given), as Secrets Manager answers them; a missing one is
 * ResourceNotFoundException. It can throttle (ThrottlingException) or fail (InternalServiceError)
 * on demand, and counts the calls it answers.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { replyJson11 } from './json11-reply.js';
import { LoopbackHttpPeer, readBody } from './loopback-http.js';
import { type KnownKey, verifyRequest } from './sigv4-verifier.js';

export const SM_REGION = 'us-east-1';
const ACCOUNT = '123456789012';

interface Version {
  readonly id: string;
  readonly value: string;
  stages: string[];
  readonly created: Date;
}

interface Secret {
  readonly name: string;
  readonly arn: string;
  readonly versions: Version[];
}

export class SecretsManagerPeer extends LoopbackHttpPeer {
  readonly #keys: ReadonlyMap<string, KnownKey>;
  readonly #secrets = new Map<string, Secret>();
  /** GetSecretValue calls that verified, by SecretId as sent. */
  readonly calls: string[] = [];
  /** Milliseconds to wait before answering. */
  delayMs = 0;
  /** When set, verified calls are answered with this failure. */
  failure: 'throttle' | 'internal' | undefined;

  constructor(keys: readonly KnownKey[]) {
    super();
    this.#keys = new Map(keys.map((k) => [k.accessKeyId, k]));
  }

  /** Adds a version (AWSCURRENT; the one before becomes AWSPREVIOUS, as PutSecretValue does); returns its id. */
  put(name: string, value: string): string {
    let secret = this.#secrets.get(name);
    if (!secret) {
      secret = { name, arn: `arn:aws:secretsmanager:${SM_REGION}:${ACCOUNT}:secret:${name}-${randomUUID().slice(0, 6)}`, versions: [] };
      this.#secrets.set(name, secret);
    }
    for (const v of secret.versions) v.stages = v.stages.includes('AWSCURRENT') ? ['AWSPREVIOUS'] : [];
    const version: Version = { id: randomUUID(), value, stages: ['AWSCURRENT'], created: new Date() };
    secret.versions.push(version);
    return version.id;
  }

  arnOf(name: string): string {
    return this.#secrets.get(name)?.arn ?? '';
  }

  protected serve(req: IncomingMessage, res: ServerResponse): void {
    void readBody(req).then((body) => this.#answer(req, res, body));
  }

  async #answer(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const verified = verifyRequest(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body },
      { keys: this.#keys, service: 'secretsmanager', region: SM_REGION },
    );
    if (!verified.ok) return this.#error(res, 403, verified.code, verified.message);
    if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue')
      return this.#error(res, 400, 'UnknownOperationException', `unknown X-Amz-Target ${String(req.headers['x-amz-target'])}`);
    const input = JSON.parse(body.toString('utf8') || '{}') as { SecretId?: string; VersionId?: string; VersionStage?: string };
    this.calls.push(input.SecretId ?? '');
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failure === 'throttle') return this.#error(res, 400, 'ThrottlingException', 'Rate exceeded');
    if (this.failure === 'internal') return this.#error(res, 500, 'InternalServiceError', 'An internal error occurred');
    const secret = [...this.#secrets.values()].find((s) => s.name === input.SecretId || s.arn === input.SecretId);
    const version = secret?.versions.find((v) =>
      input.VersionId !== undefined ? v.id === input.VersionId : v.stages.includes(input.VersionStage ?? 'AWSCURRENT'),
    );
    if (!secret || !version) return this.#error(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    replyJson11(res, 200, {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      SecretString: version.value,
      VersionStages: version.stages,
      CreatedDate: version.created.getTime() / 1000,
    });
  }

  #error(res: ServerResponse, status: number, type: string, message: string): void {
    replyJson11(res, status, { __type: type, message }, type);
  }
}

export async function startSecretsManagerPeer(keys: readonly KnownKey[]): Promise<SecretsManagerPeer> {
  const peer = new SecretsManagerPeer(keys);
  await peer.listen();
  return peer;
}
