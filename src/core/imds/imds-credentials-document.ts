/**
 * A service's credentials in the shape IMDS answers `.../iam/security-credentials/ROLE` with.
 * Times carry no milliseconds: botocore parses Expiration with `%Y-%m-%dT%H:%M:%SZ`.
 */
import type { ServiceCredentials } from '../credentials/credential-broker.js';

export function imdsTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The role name IMDS lists for a role ARN: the last path part (`arn:...:role/path/Name` -> `Name`). */
export function roleNameOf(roleArn: string): string {
  return roleArn.slice(roleArn.lastIndexOf('/') + 1);
}

export function imdsCredentialsDocument(credentials: ServiceCredentials, lastUpdated: Date): string {
  const document = {
    Code: 'Success',
    LastUpdated: imdsTime(lastUpdated),
    Type: 'AWS-HMAC',
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    Token: credentials.sessionToken,
    Expiration: imdsTime(credentials.expiration),
  };
  return JSON.stringify(document, null, 2);
}
