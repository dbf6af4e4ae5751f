/**
 * Finds the daemon's long-lived base credentials: access keys (in the config, or in the
 * environment for the standard chain) with no session token, as opposed to a role. A role is the
 * safe setup; keys that must exist are rotated within 90 days (see access-key-age.ts).
 */
import type { LoadedConfig } from '../config/load-config.js';
import type { SourceCredentialsConfig } from '../config/sections/credentials-section.js';
import { type Finding, finding } from './finding.js';

export interface LongLivedKey {
  /** Where the key is configured: a key path or `(environment) AWS_ACCESS_KEY_ID`. */
  readonly path: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string | undefined;
}

function fromSource(path: string, source: SourceCredentialsConfig | undefined, region: string | undefined): LongLivedKey | undefined {
  const keys = source?.iam_keys;
  if (!keys || (keys.session_token ?? keys.aws_session_token) !== undefined) return undefined;
  const accessKeyId = keys.aws_access_key_id ?? keys.access_key_id;
  const secretAccessKey = keys.aws_secret_access_key ?? keys.secret_access_key;
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  return { path, accessKeyId, secretAccessKey, region: source?.region ?? region };
}

export function longLivedKeys(loaded: LoadedConfig, env: NodeJS.ProcessEnv): LongLivedKey[] {
  const { config } = loaded;
  const found: LongLivedKey[] = [];
  const defaults = config.aws_defaults;
  const base = fromSource('aws_defaults.iam_keys', defaults, undefined);
  if (base) found.push(base);
  // Without iam_keys or iam_profile the standard chain reads the environment first.
  const usesChain = !defaults?.iam_keys && !defaults?.iam_profile;
  if (usesChain && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY && !env.AWS_SESSION_TOKEN) {
    found.push({
      path: '(environment) AWS_ACCESS_KEY_ID',
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      region: defaults?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    });
  }
  for (const [name, service] of Object.entries(config.services)) {
    const own = fromSource(`services.${name}.source_credentials.iam_keys`, service.source_credentials, defaults?.region);
    if (own) found.push(own);
  }
  return found;
}

export function checkLongLivedKeys(keys: readonly LongLivedKey[]): Finding[] {
  return keys.map((key) =>
    finding(
      'long-lived-credentials',
      key.path,
      'the base credentials are long-lived access keys: if they leak they work until someone deactivates them',
      'prefer a role: an instance profile, an ECS task role, IRSA or IAM Roles Anywhere (the standard chain finds them with no config); if keys must stay, rotate them within 90 days and give them only what sidekey policy prints',
    ),
  );
}
