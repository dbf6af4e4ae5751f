/**
 * One service as the cache sees it: its validated config, where it came from (the main config or
 * a dynamic service file), the source credentials it signs AssumeRole with, and an identity that
 * says whether a reloaded definition would get the same credentials from STS.
 */
import { createHash } from 'node:crypto';
import { FileRefused, readRegularFile } from '../config/read-regular-file.js';
import type { ServiceConfig, SourceCredentialsConfig } from '../config/sections/credentials-section.js';
import { isUnder } from '../config/substitute.js';
import { MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH } from '../config/validators.js';
import { SidekeyError } from '../errors.js';

/** STS's limit on RoleSessionName. */
export const MAX_SESSION_NAME_LENGTH = 64;
/** Prefix of the default RoleSessionName, so CloudTrail shows which sessions sidekey opened. */
export const SESSION_NAME_PREFIX = 'sidekey-';
/** Where a service defined in the main config file comes from. */
export const CONFIG_ORIGIN = 'config';

export interface ServiceDefinition {
  readonly name: string;
  readonly config: ServiceConfig;
  /** `config`, or the path of the dynamic service file that defines it. */
  readonly origin: string;
  /** For a dynamic service: the directories its token file must stay under, checked at every read. */
  readonly fileRoots?: readonly string[];
  /** The service's own source credentials merged over `aws_defaults` (keys/profile as a unit, region alone). */
  readonly source: SourceCredentialsConfig | undefined;
  readonly sessionName: string;
  /**
   * A digest of everything that decides what STS hands out (role, session parameters, source
   * credentials). Equal identities across a reload keep the cached credentials.
   */
  readonly identity: string;
}

export function defaultSessionName(service: string): string {
  return `${SESSION_NAME_PREFIX}${service}`.slice(0, MAX_SESSION_NAME_LENGTH);
}

function mergeSource(
  own: SourceCredentialsConfig | undefined,
  defaults: SourceCredentialsConfig | undefined,
): SourceCredentialsConfig | undefined {
  if (!own && !defaults) return undefined;
  const credentialsFrom = own?.iam_keys || own?.iam_profile ? own : defaults;
  const region = own?.region ?? defaults?.region;
  return {
    ...(region ? { region } : {}),
    ...(credentialsFrom?.iam_keys ? { iam_keys: credentialsFrom.iam_keys } : {}),
    ...(credentialsFrom?.iam_profile ? { iam_profile: credentialsFrom.iam_profile } : {}),
  };
}

export function defineService(
  name: string,
  config: ServiceConfig,
  awsDefaults: SourceCredentialsConfig | undefined,
  origin: string = CONFIG_ORIGIN,
  fileRoots?: readonly string[],
): ServiceDefinition {
  const source = mergeSource(config.source_credentials, awsDefaults);
  const sessionName = config.assumed_role.RoleSessionName ?? defaultSessionName(name);
  // Hashed so the definition does not hold another copy of the source keys in a plain string.
  const identity = createHash('sha256')
    .update(JSON.stringify({ role: config.assumed_role, sessionName, source: source ?? null }))
    .digest('base64url');
  return { name, config, origin, ...(fileRoots ? { fileRoots } : {}), source, sessionName, identity };
}

/**
 * Reads a service token from `auth_token_file`: one trailing newline is trimmed, and the token must
 * meet the same rules as `auth_token`. Messages name the file, never its content. With `roots`
 * (a dynamic service), the file, symlinks resolved, must still lie under one of them: a token file
 * swapped for a link elsewhere is refused.
 */
export function readTokenFile(path: string, keyPath: string, roots?: readonly string[]): string {
  if (roots && !isUnder(path, roots)) {
    throw new SidekeyError('CONFIG_INVALID', `${keyPath}: ${path} is not under ${roots.join(', ')} (dynamic_services.token_directories)`);
  }
  let text: string;
  try {
    // A trailing CRLF may follow the longest token.
    text = readRegularFile(path, MAX_TOKEN_LENGTH + 2)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  } catch (error) {
    const reason = error instanceof FileRefused ? error.reason : 'read failed';
    throw new SidekeyError('CONFIG_INVALID', `${keyPath}: cannot read token file ${path} (${reason})`, {
      cause: error,
      details: { file: path },
    });
  }
  if (text.length < MIN_TOKEN_LENGTH) {
    throw new SidekeyError('CONFIG_INVALID', `${keyPath}: the token in ${path} must be at least ${MIN_TOKEN_LENGTH} characters long`);
  }
  if (!/^[\x21-\x7e]+$/.test(text)) {
    throw new SidekeyError('CONFIG_INVALID', `${keyPath}: the token in ${path} must be printable ASCII with no spaces or line breaks`);
  }
  return text;
}

/** The same rules for a token set at run time (`setToken`); the message never shows the token. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) return `a token must be at least ${MIN_TOKEN_LENGTH} characters long`;
  if (token.length > MAX_TOKEN_LENGTH) return `a token must be at most ${MAX_TOKEN_LENGTH} characters long`;
  if (!/^[\x21-\x7e]+$/.test(token)) return 'a token must be printable ASCII with no spaces or line breaks';
  return undefined;
}
