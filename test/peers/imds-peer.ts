/**
 * An EC2 instance metadata service (IMDS) test peer, following IMDS as AWS documents it and as
 * clients were seen to rely on it. Where each behaviour comes from:
 * - IMDSv2 tokens: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds 1 to 21600
 *   (400 outside), 403 when the PUT carries X-Forwarded-For, 401 for an unknown or expired token
 *   and, with tokens required, for none (EC2 User Guide, "Use the Instance Metadata Service to
 *   access instance metadata", IMDSv2); 405 for methods other than GET, HEAD and the token PUT.
 * - The tree: every version prefix serves the same categories (`latest`, `1.0` and dated versions
 *   such as 2009-04-04, which cloud-init walks; "Retrieve instance metadata"), `/` lists them, a
 *   listing is one entry a line with directories ending in `/`, and lookups are case-sensitive.
 * - A directory read without its trailing slash is a 301 to the slashed path, a missing path
 *   IMDS's HTML 404 page, and a leaf read with a trailing slash is answered as the leaf (botocore's
 *   region lookup reads `placement/region` that way); seen from real clients against EC2.
 * It holds instance credentials, user-data and identity documents whose values are marked, and it
 * logs every request so tests can assert what reached it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackHttpPeer } from './loopback-http.js';

export const PEER_INSTANCE_ROLE = 'instance-role';
/** Values only the instance's own secrets contain: finding one in any answer or log is a leak. */
export const PEER_INSTANCE_SECRETS = {
  accessKeyId: 'ASIAPEERINSTANCE0001',
  secretAccessKey: 'peer-instance-secret-access-key-never-pass',
  token: 'peer-instance-session-token-never-pass',
  identityAccessKeyId: 'ASIAPEERIDENTITY0001',
  identitySecret: 'peer-identity-secret-never-pass',
  userData: 'peer-user-data-secret-never-pass',
  signature: 'peer-identity-signature-never-pass',
} as const;
export const PEER_VERSIONS = ['1.0', '2007-01-19', '2009-04-04', '2012-01-12', '2021-07-15', 'latest'] as const;
export const PEER_MIN_TTL_SECONDS = 1;
export const PEER_MAX_TTL_SECONDS = 21_600;

export const PEER_NOT_FOUND_BODY = `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
`;

const MAC = '0e:49:61:0f:c3:11';
const credentials = (id: string, secret: string, token: string) =>
  JSON.stringify(
    {
      Code: 'Success',
      LastUpdated: '2026-01-01T00:00:00Z',
      Type: 'AWS-HMAC',
      AccessKeyId: id,
      SecretAccessKey: secret,
      Token: token,
      Expiration: '2099-01-01T00:00:00Z',
    },
    null,
    2,
  );

/** Leaves of the tree under each version prefix; directories are implied by the paths. */
const LEAVES: Readonly<Record<string, string>> = {
  'meta-data/ami-id': 'ami-0123456789abcdef0',
  'meta-data/instance-id': 'i-0123456789abcdef0',
  'meta-data/instance-type': 'm5.large',
  'meta-data/local-ipv4': '10.0.0.12',
  'meta-data/local-hostname': 'ip-10-0-0-12.ec2.internal',
  'meta-data/mac': MAC,
  'meta-data/placement/availability-zone': 'us-east-1a',
  'meta-data/placement/region': 'us-east-1',
  [`meta-data/network/interfaces/macs/${MAC}/local-ipv4s`]: '10.0.0.12',
  'meta-data/iam/info': JSON.stringify({
    Code: 'Success',
    InstanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/peer',
    InstanceProfileId: 'AIPAPEER',
  }),
  [`meta-data/iam/security-credentials/${PEER_INSTANCE_ROLE}`]: credentials(
    PEER_INSTANCE_SECRETS.accessKeyId,
    PEER_INSTANCE_SECRETS.secretAccessKey,
    PEER_INSTANCE_SECRETS.token,
  ),
  'meta-data/identity-credentials/ec2/security-credentials/ec2-instance': credentials(
    PEER_INSTANCE_SECRETS.identityAccessKeyId,
    PEER_INSTANCE_SECRETS.identitySecret,
    PEER_INSTANCE_SECRETS.token,
  ),
  'user-data': `#!/bin/sh\nexport DB_PASSWORD=${PEER_INSTANCE_SECRETS.userData}\n`,
  'dynamic/instance-identity/document': JSON.stringify({
    accountId: '123456789012',
    region: 'us-east-1',
    instanceId: 'i-0123456789abcdef0',
  }),
  'dynamic/instance-identity/pkcs7': PEER_INSTANCE_SECRETS.signature,
  'dynamic/instance-identity/signature': PEER_INSTANCE_SECRETS.signature,
  'dynamic/instance-identity/rsa2048': PEER_INSTANCE_SECRETS.signature,
};

/** Leaves a guard must never let through (after any normalization a lenient server might apply). */
const FORBIDDEN =
  /\/(?:meta-data\/iam\/(?:security-credentials|info)|meta-data\/identity-credentials|user-data|dynamic\/instance-identity\/(?:pkcs7|signature|rsa2048))/;

export interface PeerRequest {
  readonly method: string;
  readonly url: string;
  /** Raw header pairs as received. */
  readonly headers: readonly string[];
  readonly remote: string | undefined;
}

/** Every reading a lenient server might give a path: decoded up to 3 times, backslashes as slashes, case folded, dots resolved. */
export function lenientReadings(url: string): string[] {
  const readings = new Set<string>();
  let current = url;
  for (let round = 0; round < 4; round++) {
    const base = current
      .toLowerCase()
      .replace(/\\/g, '/')
      .replace(/[?#;].*$/, '');
    const segments: string[] = [];
    for (const segment of base.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') segments.pop();
      else segments.push(segment);
    }
    readings.add(`/${segments.join('/')}`);
    readings.add(current.toLowerCase());
    try {
      current = decodeURIComponent(current);
    } catch {
      current = current.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    }
  }
  return [...readings];
}

export class ImdsPeer extends LoopbackHttpPeer {
  readonly #tokens = new Map<string, number>();
  readonly #dirs = new Set<string>();
  /** Every request that reached the peer, in order. */
  readonly requests: PeerRequest[] = [];
  /** Forbidden leaves the peer served (a guard bug if non-empty). */
  readonly servedForbidden: string[] = [];
  /** `required`: GETs without a token get 401 (IMDSv2 only). */
  tokens: 'optional' | 'required' = 'optional';
  /** When false, nothing is logged (benchmarks). */
  recording = true;

  constructor() {
    super();
    for (const leaf of Object.keys(LEAVES)) {
      const parts = leaf.split('/');
      for (let i = 1; i < parts.length; i++) this.#dirs.add(parts.slice(0, i).join('/'));
    }
    this.server.keepAliveTimeout = 30_000;
  }

  protected serve(req: IncomingMessage, res: ServerResponse): void {
    this.#handle(req, res);
  }

  /** Requests whose path, under any lenient reading, names a forbidden leaf. */
  forbiddenReached(): PeerRequest[] {
    return this.requests.filter((r) => lenientReadings(r.url).some((reading) => FORBIDDEN.test(reading)));
  }

  reset(): void {
    this.requests.length = 0;
    this.servedForbidden.length = 0;
  }

  /** Answers and returns true, so handlers can `return this.#send(...)`. */
  #send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): true {
    const type = status === 200 ? 'text/plain' : 'text/html';
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), Server: 'EC2ws', ...headers });
    res.end(body);
    return true;
  }

  #handle(req: IncomingMessage, res: ServerResponse): true {
    const url = req.url ?? '/';
    if (this.recording) this.requests.push({ method: req.method ?? '', url, headers: req.rawHeaders, remote: req.socket.remoteAddress });
    if (url === '/latest/api/token') {
      if (req.method !== 'PUT') return this.#send(res, 405, '');
      if (req.headers['x-forwarded-for'] !== undefined) return this.#send(res, 403, '');
      const ttlText = req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
      const ttl = Number(ttlText);
      if (typeof ttlText !== 'string' || !/^\d+$/.test(ttlText) || ttl < PEER_MIN_TTL_SECONDS || ttl > PEER_MAX_TTL_SECONDS)
        return this.#send(res, 400, '');
      const token = randomBytes(42).toString('base64');
      this.#tokens.set(token, Date.now() + ttl * 1000);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(ttl), Server: 'EC2ws' });
      res.end(token);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.#send(res, 405, '');
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (token !== undefined) {
      const expires = typeof token === 'string' ? this.#tokens.get(token) : undefined;
      if (expires === undefined || expires <= Date.now()) return this.#send(res, 401, '');
    } else if (this.tokens === 'required') {
      return this.#send(res, 401, '');
    }
    return this.#answerPath(res, url);
  }

  #answerPath(res: ServerResponse, url: string): true {
    if (url === '/') return this.#send(res, 200, PEER_VERSIONS.join('\n'));
    const match = /^\/([^/]+)(\/.*)?$/.exec(url);
    const version = match?.[1] ?? '';
    if (!(PEER_VERSIONS as readonly string[]).includes(version)) return this.#send(res, 404, PEER_NOT_FOUND_BODY);
    const rest = match?.[2];
    if (rest === undefined) return this.#send(res, 301, '', { Location: `${url}/` });
    const relative = rest.slice(1);
    // `/latest/` is the version's own listing; otherwise a trailing slash marks a directory read.
    const trailing = rest === '/' || relative.endsWith('/');
    const key = relative.endsWith('/') ? relative.slice(0, -1) : relative;
    const leaf = LEAVES[key];
    // IMDS answers a leaf read with a trailing slash as the leaf itself (botocore's region lookup
    // reads placement/region that way).
    if (leaf !== undefined) {
      if (FORBIDDEN.test(`/${key}`)) this.servedForbidden.push(url);
      return this.#send(res, 200, leaf);
    }
    if (key === '' || this.#dirs.has(key)) {
      if (!trailing) return this.#send(res, 301, '', { Location: `${url}/` });
      const prefix = key === '' ? '' : `${key}/`;
      const children = new Set<string>();
      for (const path of [...Object.keys(LEAVES), ...this.#dirs]) {
        if (!path.startsWith(prefix) || path === key) continue;
        const [child, deeper] = path.slice(prefix.length).split('/', 2);
        if (child) children.add(deeper === undefined && !this.#dirs.has(`${prefix}${child}`) ? child : `${child}/`);
      }
      return this.#send(res, 200, [...children].sort().join('\n'));
    }
    return this.#send(res, 404, PEER_NOT_FOUND_BODY);
  }
}

export async function startImdsPeer(): Promise<ImdsPeer> {
  const peer = new ImdsPeer();
  await peer.listen();
  return peer;
}
