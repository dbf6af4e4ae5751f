/**
 * The daemon's own AWS credentials: the config's `iam_keys` or `iam_profile` when given, else the
 * standard chain (env, shared config and credentials files with profiles, SSO, web identity,
 * container endpoint, instance metadata), exactly as the AWS SDK resolves them.
 */
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { SourceCredentialsConfig } from '../config/sections/credentials-section.js';

export function baseCredentialProvider(source: SourceCredentialsConfig | undefined): AwsCredentialIdentityProvider {
  const keys = source?.iam_keys;
  if (keys) {
    const identity = {
      accessKeyId: (keys.aws_access_key_id ?? keys.access_key_id) as string,
      secretAccessKey: (keys.aws_secret_access_key ?? keys.secret_access_key) as string,
      ...((keys.session_token ?? keys.aws_session_token) ? { sessionToken: keys.session_token ?? keys.aws_session_token } : {}),
    };
    return async () => identity;
  }
  const profile = source?.iam_profile;
  if (profile) {
    return fromIni({
      profile: profile.profile_name,
      ...(profile.config_file ? { configFilepath: profile.config_file } : {}),
      ...(profile.credentials_file ? { filepath: profile.credentials_file } : {}),
    });
  }
  return fromNodeProviderChain();
}

/** The region for a client: the section's own, else aws_defaults', else the SDK's own resolution. */
export function pickRegion(...candidates: (string | undefined)[]): string | undefined {
  return candidates.find((c) => c !== undefined);
}
