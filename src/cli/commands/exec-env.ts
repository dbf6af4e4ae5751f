/**
 * The environment `sidekey exec` gives its child: the container-credentials variables pointing at
 * the ephemeral endpoint, and nothing that would outrank them in an SDK's credential chain.
 */
import { devNull } from 'node:os';

/** Variables that would lend the child other credentials, or pick a profile that does. */
export const CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
] as const;

export interface ChildEnvOptions {
  readonly fullUri: string;
  readonly token: string;
  /** Region for the child when its environment names none (the service's source region). */
  readonly region?: string | undefined;
  /**
   * Keep AWS_CONFIG_FILE usable. Off by default: a default profile with sso_*, credential_process
   * or static keys in ~/.aws/config would otherwise outrank the endpoint in botocore's chain.
   */
  readonly keepAwsConfig?: boolean;
}

export function childEnv(parent: NodeJS.ProcessEnv, options: ChildEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...parent };
  for (const name of CREDENTIAL_ENV) delete env[name];
  // The shared credentials file outranks the container provider in every SDK's chain.
  env.AWS_SHARED_CREDENTIALS_FILE = devNull;
  if (!options.keepAwsConfig) env.AWS_CONFIG_FILE = devNull;
  if (options.region && !env.AWS_REGION && !env.AWS_DEFAULT_REGION) {
    env.AWS_REGION = options.region;
    env.AWS_DEFAULT_REGION = options.region;
  }
  env.AWS_CONTAINER_CREDENTIALS_FULL_URI = options.fullUri;
  env.AWS_CONTAINER_AUTHORIZATION_TOKEN = options.token;
  return env;
}
