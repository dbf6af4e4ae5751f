/**
 * A configured target made ready to use: CA bundles read, TLS contexts and the SCRAM verifier
 * built, the signing credentials and region chosen. Built once per start or reload, so a
 * missing file fails the start with a message naming the key, not a later connection.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import {
  loginsPerSecond,
  type PgServerTlsConfig,
  type PgTargetConfig,
  type PgTlsConfig,
} from '../core/config/sections/postgres-section.js';
import type { SidekeyConfig } from '../core/config/sidekey-config.js';
import type { AwsCredentialIdentityProvider, CredentialBroker } from '../core/credentials/credential-broker.js';
import { SidekeyError } from '../core/errors.js';
import { LoginPacer } from '../core/pg/login-pacer.js';
import { type ScramVerifier, scramVerifier } from '../core/pg/scram-server.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';

export interface PgTarget {
  readonly name: string;
  readonly config: PgTargetConfig;
  /** The database itself. */
  readonly database: UpstreamEndpoint;
  /** The server proxy, when the target goes `via` one. */
  readonly via: UpstreamEndpoint | undefined;
  readonly clientTls: SecureContext | undefined;
  readonly clientVerifier: ScramVerifier | undefined;
  /** Undefined for password targets. */
  readonly region: string | undefined;
  readonly credentials: AwsCredentialIdentityProvider;
  /** Paces new upstream logins (max_logins_per_second); undefined: unpaced. */
  readonly logins: LoginPacer | undefined;
}

function readPem(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new SidekeyError('PG_TLS', `cannot read ${key} ${file} (${(error as NodeJS.ErrnoException).code ?? 'read failed'})`, {
      cause: error,
    });
  }
}

export function serverTlsContext(tls: PgServerTlsConfig, key: string): SecureContext {
  try {
    return createSecureContext({ cert: readPem(tls.cert_file, `${key}.cert_file`), key: readPem(tls.key_file, `${key}.key_file`) });
  } catch (error) {
    if (error instanceof SidekeyError) throw error;
    throw new SidekeyError('PG_TLS', `${key}: the certificate and key do not make a usable TLS context (${(error as Error).message})`, {
      cause: error,
    });
  }
}

function endpoint(
  label: string,
  configKey: string,
  tlsKey: string,
  hostPort: { host: string; port: number },
  tls: PgTlsConfig,
  keepAliveMs: number,
): UpstreamEndpoint {
  return {
    label,
    configKey,
    tlsKey,
    host: hostPort.host,
    port: hostPort.port,
    tlsMode: tls.mode,
    ca: tls.ca_file ? readPem(tls.ca_file, `${tlsKey}.ca_file`) : undefined,
    keepAliveMs,
  };
}

/** Splits `host:port` or `[v6]:port`. */
export function splitHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!match) throw new SidekeyError('CONFIG_INVALID', `"${text}" is not HOST:PORT`);
  return { host: (match[1] ?? match[2]) as string, port: Number(match[3]) };
}

function pacerFor(target: PgTargetConfig): LoginPacer | undefined {
  const perSecond = loginsPerSecond(target);
  return perSecond === undefined ? undefined : new LoginPacer(perSecond);
}

export function buildPgTarget(name: string, config: SidekeyConfig, broker: CredentialBroker, keepAliveMs: number): PgTarget {
  const target = config.postgres?.targets[name];
  if (!target) throw new SidekeyError('CONFIG_INVALID', `no target named "${name}" under postgres.targets`);
  const key = `postgres.targets.${name}`;
  const region = target.region ?? config.aws_defaults?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (target.auth === 'iam' && region === undefined) {
    throw new SidekeyError('CONFIG_INVALID', `${key}.region is required for auth: iam (or set aws_defaults.region or AWS_REGION)`);
  }
  return {
    name,
    config: target,
    database: endpoint(`database ${name} (${target.host}:${target.port})`, key, `${key}.tls`, target, target.tls, keepAliveMs),
    via: target.via
      ? endpoint(
          `server proxy ${target.via} for ${name}`,
          `${key}.via`,
          `${key}.via_tls`,
          splitHostPort(target.via),
          target.via_tls,
          keepAliveMs,
        )
      : undefined,
    clientTls: target.client_tls ? serverTlsContext(target.client_tls, `${key}.client_tls`) : undefined,
    clientVerifier: target.client_auth === 'trust' ? undefined : scramVerifier(target.client_auth.password),
    region: target.auth === 'iam' ? region : undefined,
    credentials: target.service ? broker.serviceProvider(target.service) : broker.baseCredentials(),
    logins: pacerFor(target),
  };
}

/** DB users a target may log in as: `user` and every value of `users`. */
export function allowedDbUsers(target: PgTargetConfig): ReadonlySet<string> {
  return new Set([target.user, ...Object.values(target.users ?? {})]);
}
