/**
 * The container-credentials response body, exactly as botocore, the AWS CLI v2 and the JS SDK v3
 * read it. A body is serialized once per set of credentials and reused for every caller until
 * they are refreshed. Errors are written by net/error-reply.ts in the AWS form.
 */
import type { ServerResponse } from 'node:http';
import type { ServiceCredentials } from '../core/credentials/credential-broker.js';

/** RFC 3339 in UTC without fractional seconds (`2026-11-22T10:00:00Z`), the form STS itself uses. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function credentialsBody(c: ServiceCredentials): string {
  return JSON.stringify({
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: rfc3339(c.expiration),
    ...(c.accountId ? { AccountId: c.accountId } : {}),
    RoleArn: c.roleArn,
  });
}

/**
 * Bodies are kept as strings with their byte length: node:http then sends headers and body in one
 * write, where a Buffer body costs a second chunk (writev) per response.
 */
const bodies = new WeakMap<ServiceCredentials, { readonly text: string; readonly headers: readonly string[] }>();

/**
 * Writes 200 with the credentials; the serialized body and its header list (a flat name/value
 * array, which node:http writes without walking an object's keys) are cached per credentials object.
 */
export function sendCredentials(res: ServerResponse, credentials: ServiceCredentials): void {
  let body = bodies.get(credentials);
  if (!body) {
    const text = credentialsBody(credentials);
    const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(text)), 'cache-control', 'no-store'];
    body = { text, headers };
    bodies.set(credentials, body);
  }
  res.writeHead(200, body.headers as string[]);
  res.end(body.text);
}
