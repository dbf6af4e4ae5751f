/** `exec --env VAR=name[:serial]` specs, and the json / dotenv output of `export`. */
import { SidekeyError } from '../../core/errors.js';
import { checkName, parseSerial } from '../../core/secrets/secret-errors.js';

export interface EnvSpec {
  readonly variable: string;
  readonly name: string;
  readonly serial?: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnvSpec(text: string): EnvSpec {
  const match = /^([^=]+)=([^:]+)(?::(.+))?$/.exec(text);
  if (!match) throw new SidekeyError('USAGE', `--env ${text}: expected VAR=secret-name or VAR=secret-name:serial`);
  const variable = match[1] as string;
  if (!ENV_NAME.test(variable)) throw new SidekeyError('USAGE', `--env ${text}: ${variable} is not a valid environment variable name`);
  const name = checkName(match[2] as string, 'secret name');
  return { variable, name, ...(match[3] !== undefined ? { serial: parseSerial(match[3], `serial in --env ${variable}`) } : {}) };
}

/** `exec --agent --env VAR=NAME`: the whole of NAME is the agent's name (an ARN has colons), no serial. */
export function parseAgentEnvSpec(text: string): EnvSpec {
  const at = text.indexOf('=');
  const variable = at === -1 ? '' : text.slice(0, at);
  const name = text.slice(at + 1);
  if (at === -1 || name === '') throw new SidekeyError('USAGE', `--env ${text}: expected VAR=secret-name or VAR=ssm:parameter-name`);
  if (!ENV_NAME.test(variable)) throw new SidekeyError('USAGE', `--env ${text}: ${variable} is not a valid environment variable name`);
  return { variable, name };
}

/** The variable a secret is exported as in dotenv: db-password -> DB_PASSWORD, com.foo.mysql -> COM_FOO_MYSQL. */
export function envNameOf(name: string): string {
  const variable = name.toUpperCase().replace(/[.-]/g, '_');
  return /^[0-9]/.test(variable) ? `_${variable}` : variable;
}

/**
 * A value quoted for POSIX sh: in single quotes nothing is special (no $, backtick, backslash or
 * history expansion), so sourcing the file never runs anything; a ' ends the quote, is escaped,
 * and the quote reopens. Line breaks stay as they are, so sh, bash and dash read the value back
 * byte for byte. A NUL cannot be in an environment variable at all.
 */
function dotenvValue(name: string, value: string): string {
  if (value.includes('\0'))
    throw new SidekeyError('USAGE', `secret "${name}" contains a NUL byte and cannot be exported as dotenv; use --format json`);
  return `'${value.replaceAll("'", "'\\''")}'`;
}

export const EXPORT_FORMATS = ['json', 'dotenv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function formatExport(values: ReadonlyMap<string, string>, format: ExportFormat): string {
  if (format === 'json') return `${JSON.stringify(Object.fromEntries(values), null, 2)}\n`;
  return [...values].map(([name, value]) => `${envNameOf(name)}=${dotenvValue(name, value)}\n`).join('');
}
