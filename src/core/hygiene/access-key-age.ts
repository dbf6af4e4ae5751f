/**
 * Asks IAM (ListAccessKeys, as the key's own user) how old each long-lived key is; keys older
 * than 90 days fail (the usual rotation rule, as in the CIS AWS Foundations Benchmark). When IAM
 * refuses the call or cannot be reached, that is reported as information and never fails the
 * check. The IAM endpoint follows the SDK's standard settings (`AWS_ENDPOINT_URL_IAM`, then
 * `AWS_ENDPOINT_URL`).
 */
import { IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { type Finding, finding } from './finding.js';
import type { LongLivedKey } from './long-lived-keys.js';

/** Access keys must be rotated within this many days. */
export const MAX_ACCESS_KEY_AGE_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;
/** How long one IAM call may take before the age is reported as unknown. */
export const IAM_CALL_TIMEOUT_MS = 5000;
/** IAM is global; its endpoint is resolved through this region unless the key names another. */
export const IAM_DEFAULT_REGION = 'us-east-1';

export interface AccessKeyAgeOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly now: Date;
}

function endpointFrom(env: NodeJS.ProcessEnv): string | undefined {
  return env.AWS_ENDPOINT_URL_IAM ?? env.AWS_ENDPOINT_URL;
}

function reasonOf(error: unknown): string {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `IAM did not answer within ${IAM_CALL_TIMEOUT_MS} ms`;
  if (status !== undefined) return `IAM answered ${e.name ?? 'an error'} (HTTP ${status})`;
  return `IAM could not be reached (${e.code ?? e.name ?? 'network error'})`;
}

async function ageOf(key: LongLivedKey, options: AccessKeyAgeOptions): Promise<Finding | undefined> {
  const endpoint = endpointFrom(options.env);
  const client = new IAMClient({
    region: key.region ?? IAM_DEFAULT_REGION,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: IAM_CALL_TIMEOUT_MS, requestTimeout: IAM_CALL_TIMEOUT_MS },
    ...(endpoint ? { endpoint } : {}),
  });
  const unknown = (why: string) =>
    finding(
      'access-key-age-unknown',
      key.path,
      `cannot tell how old the access key is: ${why}`,
      `allow iam:ListAccessKeys on the key's own user (arn:aws:iam::ACCOUNT:user/\${aws:username}), or check the IAM credential report; rotate keys older than ${MAX_ACCESS_KEY_AGE_DAYS} days`,
    );
  try {
    const listed = await client.send(new ListAccessKeysCommand({}), { abortSignal: AbortSignal.timeout(IAM_CALL_TIMEOUT_MS) });
    const match = listed.AccessKeyMetadata?.find((k) => k.AccessKeyId === key.accessKeyId);
    if (!match?.CreateDate) return unknown('IAM did not list this key for its own user (a root key, or a key of another user?)');
    const days = Math.floor((options.now.getTime() - match.CreateDate.getTime()) / DAY_MS);
    if (days <= MAX_ACCESS_KEY_AGE_DAYS) return undefined;
    return finding(
      'access-key-old',
      key.path,
      `the access key was created ${days} days ago (${match.CreateDate.toISOString().slice(0, 10)}), more than ${MAX_ACCESS_KEY_AGE_DAYS}`,
      'create a new key, switch sidekey to it, then deactivate and delete the old one (aws iam create-access-key / update-access-key --status Inactive); better, move to a role',
    );
  } catch (error) {
    return unknown(reasonOf(error));
  } finally {
    client.destroy();
  }
}

/** One finding per key that is too old or whose age is unknown; keys within the limit give none. */
export async function checkAccessKeyAges(keys: readonly LongLivedKey[], options: AccessKeyAgeOptions): Promise<Finding[]> {
  const results = await Promise.all(keys.map((key) => ageOf(key, options)));
  return results.filter((f): f is Finding => f !== undefined);
}
