/**
 * An STS test peer that speaks the real Query protocol over HTTP: form-encoded POST in, XML out
 * (ErrorResponse XML for failures), AssumeRole and GetCallerIdentity. It verifies every request's
 * SigV4 signature against the keys it knows, and the session credentials it issues become known
 * keys too, so a client using them verifies against it as well. Tests can make it slow, throttle,
 * fail with 500, or issue short-lived credentials, and it counts AssumeRole calls per role.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackHttpPeer } from './loopback-http.js';
import { type KnownKey, verifyRequest } from './sigv4-verifier.js';

/** Base keys the peer trusts unless told otherwise (tests configure sidekey with these). */
export const STS_PEER_BASE_KEY: KnownKey = {
  accessKeyId: 'AKIDSTSPEERBASE00001',
  secretAccessKey: 'sts-peer-base-secret-key-for-tests-only-0001',
};
/** A config's `aws_defaults` whose static keys are the peers' base key, so every peer verifies the daemon's own calls. */
export function baseKeyDefaults(region = 'us-east-1'): Record<string, unknown> {
  return {
    region,
    iam_keys: { aws_access_key_id: STS_PEER_BASE_KEY.accessKeyId, aws_secret_access_key: STS_PEER_BASE_KEY.secretAccessKey },
  };
}

/** The account every peer-issued identity belongs to. */
export const STS_PEER_ACCOUNT = '123456789012';

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
/** The largest request body the peer reads. */
const MAX_BODY_BYTES = 64 * 1024; // 64 KiB
const ROLE_ARN = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

export type StsFailure = 'throttle' | 'error500' | 'access-denied';

export interface StsPeerOptions {
  readonly keys?: readonly KnownKey[];
  /** Time used for issued expirations (a test's manual clock); real time by default. */
  readonly now?: () => number;
}

export interface AssumeRoleCall {
  readonly roleArn: string;
  readonly params: URLSearchParams;
  readonly accessKeyId: string;
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** AWS-style RFC 3339 without milliseconds, as STS itself sends. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class StsPeer extends LoopbackHttpPeer {
  readonly #keys = new Map<string, KnownKey & { arn?: string }>();
  readonly #now: () => number;
  readonly #calls = new Map<string, number>();
  /** Every AssumeRole call that verified, in order. */
  readonly assumeRoleCalls: AssumeRoleCall[] = [];
  /** Milliseconds to wait before answering. */
  delayMs = 0;
  /** When set, answer AssumeRole with this failure (for `failTimes` calls, or always when undefined). */
  failure: StsFailure | undefined;
  failTimes: number | undefined;
  /** When set, issued credentials expire after this many seconds whatever DurationSeconds asked. */
  lifetimeSeconds: number | undefined;
  /** Every request seen, including refused ones. */
  requests = 0;

  constructor(options: StsPeerOptions = {}) {
    super();
    for (const key of options.keys ?? [STS_PEER_BASE_KEY]) this.#keys.set(key.accessKeyId, key);
    this.#now = options.now ?? Date.now;
  }

  protected serve(req: IncomingMessage, res: ServerResponse): void {
    this.#handle(req, res).catch((error: unknown) => this.#error(res, 500, 'InternalFailure', String(error)));
  }

  /** AssumeRole calls that verified for `roleArn` (all roles when omitted), failed ones included. */
  calls(roleArn?: string): number {
    if (roleArn !== undefined) return this.#calls.get(roleArn) ?? 0;
    let total = 0;
    for (const count of this.#calls.values()) total += count;
    return total;
  }

  /** Every key the peer knows, issued ones included, live: another peer verifies assumed-role calls with it. */
  knownKeys(): ReadonlyMap<string, KnownKey & { arn?: string }> {
    return this.#keys;
  }

  /** The secrets of every credential the peer issued (for no-secrets-in-logs assertions). */
  issuedSecrets(): string[] {
    return [...this.#keys.values()].filter((k) => k.sessionToken).flatMap((k) => [k.secretAccessKey, k.sessionToken as string]);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const body = await readBody(req);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (req.method !== 'POST') return this.#error(res, 405, 'InvalidAction', 'the Query protocol uses POST here');
    const verified = verifyRequest(
      { method: req.method, url: req.url ?? '/', headers: req.headers, body },
      { keys: this.#keys, service: 'sts' },
    );
    if (!verified.ok) return this.#error(res, 403, verified.code, verified.message);
    const params = new URLSearchParams(body.toString('utf8'));
    if (params.get('Version') !== '2011-06-15') return this.#error(res, 400, 'InvalidParameterValue', 'Version must be 2011-06-15');
    const caller = this.#keys.get(verified.accessKeyId);
    switch (params.get('Action')) {
      case 'AssumeRole':
        return this.#assumeRole(res, params, verified.accessKeyId);
      case 'GetCallerIdentity': {
        const arn = caller?.arn ?? `arn:aws:iam::${STS_PEER_ACCOUNT}:user/sidekey-base`;
        const result = `<UserId>${xmlEscape(verified.accessKeyId)}</UserId><Account>${STS_PEER_ACCOUNT}</Account><Arn>${xmlEscape(arn)}</Arn>`;
        return this.#ok(res, 'GetCallerIdentity', result);
      }
      default:
        return this.#error(
          res,
          400,
          'InvalidAction',
          `Could not find operation ${params.get('Action') ?? '(none)'} for version 2011-06-15`,
        );
    }
  }

  #assumeRole(res: ServerResponse, params: URLSearchParams, accessKeyId: string): undefined {
    const roleArn = params.get('RoleArn') ?? '';
    const sessionName = params.get('RoleSessionName') ?? '';
    const role = ROLE_ARN.exec(roleArn);
    if (!role)
      return this.#error(
        res,
        400,
        'ValidationError',
        `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint`,
      );
    if (!SESSION_NAME.test(sessionName)) return this.#error(res, 400, 'ValidationError', 'roleSessionName failed to satisfy constraint');
    const duration = Number(params.get('DurationSeconds') ?? '3600');
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
      return this.#error(res, 400, 'ValidationError', 'durationSeconds must be between 900 and 43200');
    }
    this.#calls.set(roleArn, (this.#calls.get(roleArn) ?? 0) + 1);
    this.assumeRoleCalls.push({ roleArn, params, accessKeyId });
    if (this.failure && (this.failTimes === undefined || this.failTimes > 0)) {
      if (this.failTimes !== undefined) this.failTimes--;
      if (this.failure === 'throttle') return this.#error(res, 400, 'Throttling', 'Rate exceeded');
      if (this.failure === 'access-denied')
        return this.#error(res, 403, 'AccessDenied', `not authorized to perform sts:AssumeRole on ${roleArn}`);
      return this.#error(res, 500, 'InternalFailure', 'An internal error occurred', 'Receiver');
    }
    const expiresAt = this.#now() + (this.lifetimeSeconds ?? duration) * 1000;
    const key = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
      expiration: new Date(expiresAt),
      arn: `arn:aws:sts::${role[1]}:assumed-role/${role[2]}/${sessionName}`,
    };
    this.#keys.set(key.accessKeyId, key);
    const sourceIdentity = params.get('SourceIdentity');
    const result = [
      sourceIdentity ? `<SourceIdentity>${xmlEscape(sourceIdentity)}</SourceIdentity>` : '',
      `<AssumedRoleUser><Arn>${xmlEscape(key.arn)}</Arn><AssumedRoleId>AROA${STS_PEER_ACCOUNT}:${xmlEscape(sessionName)}</AssumedRoleId></AssumedRoleUser>`,
      `<Credentials><AccessKeyId>${key.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(key.secretAccessKey)}</SecretAccessKey>`,
      `<SessionToken>${xmlEscape(key.sessionToken)}</SessionToken><Expiration>${isoSeconds(expiresAt)}</Expiration></Credentials>`,
      '<PackedPolicySize>6</PackedPolicySize>',
    ].join('');
    this.#ok(res, 'AssumeRole', result);
  }

  #ok(res: ServerResponse, action: string, result: string): undefined {
    const xml =
      `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result>` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml), 'x-amzn-requestid': randomUUID() });
    res.end(xml);
  }

  #error(res: ServerResponse, status: number, code: string, message: string, type = 'Sender'): undefined {
    const xml =
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
    res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
    res.end(xml);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Starts a peer on 127.0.0.1 with a random port. */
export async function startStsPeer(options: StsPeerOptions = {}): Promise<StsPeer> {
  const peer = new StsPeer(options);
  await peer.listen();
  return peer;
}
