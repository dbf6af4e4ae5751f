/** The real IMDS clients, pointed at the guard: the JS SDK's fromInstanceMetadata and botocore (AWS CLI v2). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fromInstanceMetadata } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity } from '@smithy/types';
import { AWS_CLI } from '../helpers/aws-cli.js';

export { AWS_CLI, cliMissing } from '../helpers/aws-cli.js';

const run = promisify(execFile);

/** Runs the JS SDK's IMDS provider (IMDSv2 flow: token PUT, role listing, role credentials) against `endpoint`. */
export async function sdkInstanceCredentials(endpoint: string): Promise<AwsCredentialIdentity> {
  const saved = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = endpoint;
  try {
    return await fromInstanceMetadata({ timeout: 2000, maxRetries: 0 })();
  } finally {
    if (saved === undefined) delete process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
    else process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = saved;
  }
}

/**
 * `aws configure export-credentials` with nothing but IMDS to find credentials in: botocore's
 * InstanceMetadataFetcher (token PUT, role, credentials) through the guard. Resolves with the
 * exported credentials, rejects when the CLI finds none.
 */
export async function cliInstanceCredentials(
  endpoint: string,
  home: string,
): Promise<{ AccessKeyId: string; SecretAccessKey: string; SessionToken: string }> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_CONFIG_FILE: `${home}/none-config`,
    AWS_SHARED_CREDENTIALS_FILE: `${home}/none-credentials`,
    AWS_REGION: 'us-east-1',
    // botocore appends "latest/api/token" to the endpoint, so it needs the trailing slash.
    AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint.endsWith('/') ? endpoint : `${endpoint}/`,
    AWS_METADATA_SERVICE_NUM_ATTEMPTS: '1',
    AWS_METADATA_SERVICE_TIMEOUT: '2',
  };
  const { stdout } = await run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env, timeout: 30_000 });
  return JSON.parse(stdout) as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
}
