/**
 * An independent AWS Signature Version 4 verifier for the test peers (STS, KMS, RDS IAM tokens).
 * It recomputes the signature from the raw request the way AWS does, from the documented
 * algorithm, and says precisely what did not match. It shares no code with the SDK's signer, so a
 * signing bug in either shows up as a failed test.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface KnownKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** When set, requests must carry it as X-Amz-Security-Token. */
  readonly sessionToken?: string;
  /** When set, the key is refused after this instant (expired session credentials). */
  readonly expiration?: Date;
}

export interface VerifyOptions {
  /** Keys the peer knows, by access key id. */
  readonly keys: ReadonlyMap<string, KnownKey>;
  readonly service: string;
  /** When set, the credential scope must name this region. */
  readonly region?: string;
  readonly now?: Date;
  /** How far the request time may be from `now` (AWS allows 5 minutes). */
  readonly maxSkewMs?: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly accessKeyId: string; readonly region: string; readonly key: KnownKey }
  | { readonly ok: false; readonly code: string; readonly message: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const DEFAULT_SKEW_MS = 5 * 60 * 1000;

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return value;
  }
}

function canonicalQuery(query: string, skip: string | undefined): string {
  if (!query) return '';
  const pairs = query
    .split('&')
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=');
      const key = safeDecode(eq < 0 ? part : part.slice(0, eq));
      const value = safeDecode(eq < 0 ? '' : part.slice(eq + 1));
      return [uriEncode(key), uriEncode(value)] as const;
    })
    .filter(([key]) => key !== skip);
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalPath(path: string): string {
  // Non-S3 services encode each (already encoded) segment once more.
  return path
    .split('/')
    .map((segment) => uriEncode(segment))
    .join('/');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

function parseDate(amzDate: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return undefined;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

function fail(code: string, message: string): VerifyResult {
  return { ok: false, code, message };
}

interface SignedParts {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly amzDate: string;
  readonly securityToken: string | undefined;
}

function check(parts: SignedParts, canonicalRequest: string, options: VerifyOptions, expiresSeconds: number | undefined): VerifyResult {
  const key = options.keys.get(parts.accessKeyId);
  if (!key)
    return fail('InvalidClientTokenId', `The security token included in the request is invalid (unknown key ${parts.accessKeyId}).`);
  if (parts.service !== options.service) {
    return fail('SignatureDoesNotMatch', `Credential should be scoped to correct service: '${options.service}', not '${parts.service}'.`);
  }
  if (options.region !== undefined && parts.region !== options.region) {
    return fail('SignatureDoesNotMatch', `Credential should be scoped to a valid region, not '${parts.region}'.`);
  }
  const signedAt = parseDate(parts.amzDate);
  if (!signedAt) return fail('IncompleteSignature', `X-Amz-Date ${parts.amzDate} is not in the basic ISO 8601 format.`);
  if (parts.amzDate.slice(0, 8) !== parts.scopeDate)
    return fail('SignatureDoesNotMatch', 'Credential scope date does not match X-Amz-Date.');
  const now = options.now ?? new Date();
  if (expiresSeconds === undefined) {
    if (Math.abs(now.getTime() - signedAt.getTime()) > (options.maxSkewMs ?? DEFAULT_SKEW_MS)) {
      return fail('SignatureDoesNotMatch', 'Signature expired: the request time is too far from the server time.');
    }
  } else if (now.getTime() > signedAt.getTime() + expiresSeconds * 1000) {
    return fail('ExpiredToken', 'The presigned request has expired.');
  } else if (signedAt.getTime() - now.getTime() > (options.maxSkewMs ?? DEFAULT_SKEW_MS)) {
    return fail('SignatureDoesNotMatch', 'The presigned request is signed in the future.');
  }
  if (key.expiration && now.getTime() >= key.expiration.getTime()) {
    return fail('ExpiredToken', 'The security token included in the request is expired.');
  }
  if ((key.sessionToken ?? '') !== (parts.securityToken ?? '')) {
    return fail('InvalidClientTokenId', 'The security token included in the request is invalid (session token mismatch).');
  }
  const scope = `${parts.scopeDate}/${parts.region}/${parts.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${parts.amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  let signingKey = hmac(`AWS4${key.secretAccessKey}`, parts.scopeDate);
  for (const step of [parts.region, parts.service, 'aws4_request']) signingKey = hmac(signingKey, step);
  const expected = createHmac('sha256', signingKey).update(stringToSign).digest();
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(parts.signature) ? parts.signature : '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
  return { ok: true, accessKeyId: parts.accessKeyId, region: parts.region, key };
}

function parseCredential(credential: string): { accessKeyId: string; scopeDate: string; region: string; service: string } | undefined {
  const m = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(credential);
  if (!m) return undefined;
  return { accessKeyId: m[1] as string, scopeDate: m[2] as string, region: m[3] as string, service: m[4] as string };
}

export interface SignedRequest {
  readonly method: string;
  /** The raw request target: path and query as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Verifies a request signed in the Authorization header. */
export function verifyRequest(request: SignedRequest, options: VerifyOptions): VerifyResult {
  const auth = headerValue(request.headers, 'authorization');
  if (!auth) return fail('MissingAuthenticationToken', 'Request is missing Authentication Token.');
  const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/.exec(auth);
  if (!m) return fail('IncompleteSignature', 'Authorization header is not a well-formed AWS4-HMAC-SHA256 signature.');
  const credential = parseCredential(m[1] as string);
  if (!credential) return fail('IncompleteSignature', 'Credential is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request.');
  const signedHeaders = (m[2] as string).split(';');
  if (!signedHeaders.includes('host')) return fail('IncompleteSignature', 'The host header must be signed.');
  const amzDate = headerValue(request.headers, 'x-amz-date');
  if (!amzDate) return fail('IncompleteSignature', 'X-Amz-Date header is missing.');
  for (const name of signedHeaders) {
    if (headerValue(request.headers, name) === undefined) return fail('IncompleteSignature', `Signed header ${name} is missing.`);
  }
  const [path = '/', query = ''] = request.url.split('?', 2) as [string, string?];
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${(headerValue(request.headers, name) as string).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const bodyHash = sha256Hex(request.body);
  const declaredHash = headerValue(request.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== 'UNSIGNED-PAYLOAD' && declaredHash !== bodyHash) {
    return fail('XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  const payloadHash = declaredHash ?? bodyHash;
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(query, undefined),
    canonicalHeaders,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  return check(
    {
      ...credential,
      signedHeaders,
      signature: m[3] as string,
      amzDate,
      securityToken: headerValue(request.headers, 'x-amz-security-token'),
    },
    canonicalRequest,
    options,
    undefined,
  );
}

/**
 * Verifies a presigned URL given as `host:port/?Action=...&X-Amz-...` (an RDS IAM auth token,
 * which is a presigned URL with the scheme stripped) or as a full URL.
 */
export function verifyPresignedUrl(
  token: string,
  options: VerifyOptions & { readonly maxExpiresSeconds?: number },
): VerifyResult & { params?: URLSearchParams } {
  let url: URL;
  try {
    url = new URL(/^https?:\/\//.test(token) ? token : `https://${token}`);
  } catch {
    return fail('IncompleteSignature', 'The token is not a presigned URL.');
  }
  const params = url.searchParams;
  if (params.get('X-Amz-Algorithm') !== ALGORITHM) return fail('IncompleteSignature', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256.');
  const credential = parseCredential(params.get('X-Amz-Credential') ?? '');
  if (!credential) return fail('IncompleteSignature', 'X-Amz-Credential is malformed.');
  const expires = Number(params.get('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 1 || expires > (options.maxExpiresSeconds ?? 604800)) {
    return fail('IncompleteSignature', 'X-Amz-Expires is missing or out of range.');
  }
  const signedHeaders = (params.get('X-Amz-SignedHeaders') ?? '').split(';');
  if (signedHeaders.join(';') !== 'host') return fail('IncompleteSignature', 'Only the host header may be signed in this presigned URL.');
  const rawQuery = token.includes('?') ? (token.split('?', 2)[1] as string) : '';
  const canonicalRequest = [
    'GET',
    canonicalPath(url.pathname || '/'),
    canonicalQuery(rawQuery, 'X-Amz-Signature'),
    `host:${url.host}\n`,
    'host',
    sha256Hex(''),
  ].join('\n');
  const result = check(
    {
      ...credential,
      signedHeaders,
      signature: params.get('X-Amz-Signature') ?? '',
      amzDate: params.get('X-Amz-Date') ?? '',
      securityToken: params.get('X-Amz-Security-Token') ?? undefined,
    },
    canonicalRequest,
    options,
    expires,
  );
  return result.ok ? { ...result, params } : result;
}
